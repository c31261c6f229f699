"""The list of API resource modules; each has ``register(router)``."""

from __future__ import annotations

import importlib

from rest_framework.routers import DefaultRouter

MODULES = ["projects", "pipelines", "executions", "scm"]


def register_all(router: DefaultRouter) -> None:
    for name in MODULES:
        try:
            module = importlib.import_module(f"devops.api.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"devops.api.{name}":
                raise
            continue  # not written yet
        module.register(router)
