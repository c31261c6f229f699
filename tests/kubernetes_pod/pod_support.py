"""Shared values for the pod-building tests. A module of its own, not conftest: ``from conftest import``
picks whichever test folder's conftest was imported first, so it broke when folders ran in another order."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from devops.project_settings import SETTINGS

K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())

VARIABLES = {
    "CICD_GIT_REPO_NAME": "app",
    "CICD_GIT_URL": "https://git.example.com/team/app.git",
    "CICD_GIT_COMMIT": "0123456",
    "CICD_GIT_REF": "refs/heads/main",
    "CICD_GIT_BRANCH": "main",
    "CICD_EVENT": "push",
    "CICD_TRIGGER_TYPE": "webhook",
    "CICD_EXECUTION_ID": "7-42",
    "CICD_EXECUTION_SEQUENCE": "42",
    "CICD_PIPELINE_ID": "7",
    "CICD_PROJECT_ID": "3",
    "CICD_LOCAL_REGISTRY": "registry.team-pipeline.svc:5000",
}


def default_settings(**overrides: str) -> dict[str, str]:
    values = {key: d.default() for key, d in SETTINGS.items()}
    values["cache-root"] = "/var/lib/devops/cache"
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return values


def validate(manifest: dict[str, Any]) -> None:
    """Strict schema validation (unknown fields are errors) for every version we support."""
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)
