"""Executors are plug-ins: a project's cluster decides which one it gets."""

from __future__ import annotations

from devops.models import Project

from .base import Executor, StepStatus


def executor_for(project: Project) -> Executor:
    """A project bound to a cluster runs there; without one it runs on the worker host."""
    if project.cluster_id is not None:
        from .kubernetes.executor import KubernetesExecutor

        return KubernetesExecutor(project.cluster)
    from .local import LocalExecutor

    return LocalExecutor()


__all__ = ["Executor", "StepStatus", "executor_for"]
