"""Routes of the sign-in, dashboard, project, pipeline and settings pages (ids are matched as text
and parsed by the views, so a malformed id is the site's 404 rather than a routing surprise)."""

from __future__ import annotations

from django.urls import path

from devops.web import views_auth, views_pipeline_add, views_projects, views_settings

urlpatterns = [
    path("login/", views_auth.LoginView.as_view(), name="web-login"),
    path("logout/", views_auth.LogoutView.as_view(), name="web-logout"),
    path("", views_projects.dashboard, name="web-dashboard"),
    path("projects/new/", views_projects.project_create, name="web-project-create"),
    path("projects/<str:project_id>/", views_projects.project_detail, name="web-project"),
    path("projects/<str:project_id>/pipelines/add/", views_pipeline_add.pipeline_add, name="web-pipeline-add"),
    path(
        "projects/<str:project_id>/pipelines/add/refresh/",
        views_pipeline_add.repositories_refresh,
        name="web-repositories-refresh",
    ),
    path("projects/<str:project_id>/settings/", views_settings.settings_page, name="web-settings"),
    path("projects/<str:project_id>/settings/secrets/", views_settings.secrets_post, name="web-settings-secrets"),
    path(
        "projects/<str:project_id>/settings/registries/", views_settings.registries_post, name="web-settings-registries"
    ),
    path("projects/<str:project_id>/settings/members/", views_settings.members_post, name="web-settings-members"),
    path("pipelines/<str:pipeline_id>/", views_projects.pipeline_detail, name="web-pipeline"),
    path("pipelines/<str:pipeline_id>/run/", views_projects.pipeline_run, name="web-pipeline-run"),
]
