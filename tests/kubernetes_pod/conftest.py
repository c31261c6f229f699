"""Helpers for the pod-building tests: parse a pipeline file, build its pod, validate it for real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pod_support import VARIABLES, default_settings, validate

from devops.executors.kubernetes.pod import PodIdentity, build_pod
from devops.pipeline_config import parse_pipeline


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
