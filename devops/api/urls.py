"""Routes under /api/: v1 resources, the OpenAPI schema and its browsable docs.

Each resource module exposes ``register(router)``; adding a module here is all a new resource needs.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

router = DefaultRouter()

# Resource modules register their viewsets on import (see each module's register()).
from . import resources  # noqa: E402

resources.register_all(router)

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
