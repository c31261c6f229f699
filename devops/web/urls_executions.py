"""Routes of the execution page (and its live status) and of the visual pipeline editor."""

from __future__ import annotations

from django.urls import path

from . import views_editor, views_executions

urlpatterns = [
    path("executions/<int:pk>/", views_executions.execution_detail, name="web-execution"),
    path("executions/<int:pk>/status.json", views_executions.execution_status, name="web-execution-status"),
    path("executions/<int:pk>/abort/", views_executions.execution_abort, name="web-execution-abort"),
    path("executions/<int:pk>/rerun/", views_executions.execution_rerun, name="web-execution-rerun"),
    path("pipelines/<int:pk>/edit/", views_editor.editor, name="web-editor"),
    path("pipelines/<int:pk>/edit/parse.json", views_editor.editor_parse, name="web-editor-parse"),
    path("pipelines/<int:pk>/edit/render.json", views_editor.editor_render, name="web-editor-render"),
    path("pipelines/<int:pk>/edit/save/", views_editor.editor_save, name="web-editor-save"),
]
