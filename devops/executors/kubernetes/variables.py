"""The variables a step of a Kubernetes execution sees: the common ones, with the in-cluster registry."""

from __future__ import annotations

from devops.executors.environment import base_variables
from devops.models import PipelineExecution

from . import names
from .provision import REGISTRY_NAME, REGISTRY_PORT


def local_registry(project_name: str) -> str:
    return f"{REGISTRY_NAME}.{names.namespace(project_name)}.svc:{REGISTRY_PORT}"


def pod_variables(execution: PipelineExecution, settings: dict[str, str]) -> dict[str, str]:
    variables = base_variables(execution, settings)
    variables["CICD_LOCAL_REGISTRY"] = local_registry(execution.project.name)
    return variables
