"""UI routes at the site root; each area keeps its own route module."""

from __future__ import annotations

import importlib

from django.urls import include, path

urlpatterns = []
for _name in ("urls_pages", "urls_executions"):
    try:
        importlib.import_module(f"devops.web.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"devops.web.{_name}":
            raise
        continue  # that area is not written yet
    urlpatterns.append(path("", include(f"devops.web.{_name}")))
