"""``runpipeline --print-manifest``: the pod the Kubernetes executor would create, without a cluster.

Reads the project's settings, templates and recent nodes when the project and pipeline exist (read
only); creates nothing: no project, no pipeline, no execution, no worker.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.db import DatabaseError

from devops.executors.environment import base_variables, strip_credentials
from devops.models import Pipeline, PipelineExecution, Project
from devops.pipeline_config import PipelineSpec, TemplateDef, parse_pipeline
from devops.project_settings import SETTINGS
from devops.selectors import project_settings
from devops.triggers import project_templates, resolve_source

from .pod import PodIdentity, build_pod


def skipped_units(spec: PipelineSpec, branch: str | None, event: str) -> frozenset[tuple[int, int]]:
    """(stage, step) whose ``when`` does not match, as the engine marks them Skipped at creation."""
    out: set[tuple[int, int]] = set()
    for si, stage in enumerate(spec.stages):
        stage_runs = stage.when is None or stage.when.matches(branch, event)
        for sj, step in enumerate(stage.steps):
            if not (stage_runs and (step.when is None or step.when.matches(branch, event))):
                out.add((si, sj))
    return frozenset(out)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def _stored(
    project: str, pipeline: str
) -> tuple[Project | None, Pipeline | None, dict[str, str], dict[str, TemplateDef]]:
    """The project's stored settings, templates and pipeline, read only; defaults when there is none
    (or no usable database: printing a manifest must not need one)."""
    defaults = {key: d.default() for key, d in SETTINGS.items()}
    try:
        project_row = Project.objects.filter(name=project).only("pk", "name").first()
        if project_row is None:
            return None, None, defaults, {}
        pipeline_row = Pipeline.objects.filter(project=project_row, name=pipeline).first()
        return project_row, pipeline_row, project_settings(project_row.pk), project_templates(project_row.pk)
    except DatabaseError:
        return None, None, defaults, {}


def manifest_for_repository(
    repo: str,
    *,
    project: str = "default",
    pipeline: str,
    branch: str | None = None,
    tag: str | None = None,
    commit: str | None = None,
    event: str | None = None,
    config_text: str | None = None,
    config_name: str = "",
) -> dict[str, Any]:
    """Resolve and read the pipeline file as a trigger would, and build the pod of its next run."""
    project_row, pipeline_row, settings, templates = _stored(project, pipeline)
    unsaved = pipeline_row is None
    if pipeline_row is None:  # never saved: only carries what resolve_source reads
        pipeline_row = Pipeline(name=pipeline, repository_url=repo, next_run=1)
    source = resolve_source(
        pipeline_row, branch=branch, tag=tag, commit=commit, config_text=config_text, config_name=config_name
    )
    spec = parse_pipeline(source.config_text, filename=source.config_name or ".devops.yml", templates=templates)
    event = event or ("tag" if source.tag else "manual")
    execution = PipelineExecution(
        project_id=project_row.pk if project_row else 0,
        pipeline_id=0 if unsaved else pipeline_row.pk,
        run=pipeline_row.next_run,
        event=event,
        repository_url=pipeline_row.repository_url,
        branch=source.branch or "",
        ref=source.ref,
        tag=source.tag or "",
        commit=source.sha,
    )
    identity = PodIdentity(
        project=project,
        pipeline=pipeline,
        execution_id=execution.execution_id,
        run=execution.run,
        repository_url=strip_credentials(execution.repository_url),
        commit=source.sha,
        branch=execution.branch,
        event=event,
        skipped=skipped_units(spec, source.branch if not source.tag else None, event),
    )
    recent = [] if unsaved else list(pipeline_row.scheduled_nodes or [])
    return build_pod(
        spec, identity, variables=base_variables(execution, settings), settings=settings, recent_nodes=recent
    )
