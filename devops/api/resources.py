"""The API's resource modules; each has ``register(router)``."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from . import executions, pipelines, projects, scm


def register_all(router: DefaultRouter) -> None:
    for module in (projects, pipelines, executions, scm):
        module.register(router)
