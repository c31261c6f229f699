"""Top-level URL map; each app keeps its own routes."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/", include("devops.webhooks.urls")),
    path("api/", include("devops.api.urls")),
    # Sign in with GitHub / GitLab / Bitbucket: POST auth/login/<backend>/, callback auth/complete/<backend>/.
    path("auth/", include("social_django.urls", namespace="social")),
    path("", include("devops.ops.urls")),  # /healthz, /readyz, /metrics
    path("", include("devops.web.urls")),
]

handler404 = "devops.errors_http.not_found"
handler500 = "devops.errors_http.server_error"
