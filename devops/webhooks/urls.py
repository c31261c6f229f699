"""Routes under /hooks/: provider webhooks per pipeline, image-registry pushes per project token."""

from django.urls import path

from . import views

urlpatterns = [
    path("pipelines/<int:pipeline_id>/", views.pipeline_hook, name="pipeline-hook"),
    path("images/<str:token>/", views.image_hook, name="image-hook"),
]
