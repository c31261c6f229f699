"""Helpers for the pod-building tests: parse a pipeline file, build its pod, validate it for real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from devops.executors.kubernetes.pod import PodIdentity, build_pod
from devops.pipeline_config import parse_pipeline
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


@pytest.fixture
def pod() -> Callable[..., dict[str, Any]]:
    """``pod(yaml_text, settings=None, nodes=(), event="push", skipped=())`` -> a validated manifest."""

    def make(
        text: str,
        *,
        settings: dict[str, str] | None = None,
        nodes: tuple[str, ...] | list[str] = (),
        event: str = "push",
        skipped: frozenset[tuple[int, int]] = frozenset(),
        project: str = "team",
        pipeline: str = "app",
        run: int = 42,
    ) -> dict[str, Any]:
        spec = parse_pipeline(text, filename=".devops.yml")
        identity = PodIdentity(
            project=project,
            pipeline=pipeline,
            execution_id=f"7-{run}",
            run=run,
            repository_url="https://git.example.com/team/app.git",
            commit="0123456789abcdef0123456789abcdef01234567",
            branch="main",
            event=event,
            skipped=skipped,
        )
        manifest = build_pod(
            spec,
            identity,
            variables={**VARIABLES, "CICD_EVENT": event},
            settings=settings or default_settings(),
            recent_nodes=list(nodes),
        )
        validate(manifest)
        return manifest

    return make
