"""Top-level URL map; each app keeps its own routes."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/", include("devops.webhooks.urls")),
]
