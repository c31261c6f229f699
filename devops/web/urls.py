"""UI routes at the site root; each area keeps its own route module."""

from django.urls import include, path

urlpatterns = [
    path("", include("devops.web.urls_pages")),
    path("", include("devops.web.urls_executions")),
]
