"""Executors are plug-ins: a project's cluster decides which one it gets."""

from __future__ import annotations

from devops.models import Project

from .base import Executor, StepStatus


def executor_for(project: Project) -> Executor:
    if project.cluster_id is not None:
        raise NotImplementedError(
            "this project is bound to a Kubernetes cluster, but the Kubernetes executor is not installed yet"
        )
    from .local import LocalExecutor

    return LocalExecutor()


__all__ = ["Executor", "StepStatus", "executor_for"]
