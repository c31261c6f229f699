"""Writes on projects and pipelines that more than one edge (CLI, API, admin) needs."""

from __future__ import annotations

from django.db import transaction

from devops.models import Pipeline, PipelineSetting, Project
from devops.project_settings import validate_setting
from devops.scm.git import normalise_url


def ensure_project(name: str) -> Project:
    project, _ = Project.objects.get_or_create(name=name, defaults={"display_name": name})
    return project


def ensure_pipeline(project: Project, name: str, repository_url: str, provider: str = "git") -> tuple[Pipeline, bool]:
    """Create the pipeline, or reuse the one with this name (its URL follows the latest call)."""
    url = normalise_url(repository_url)
    with transaction.atomic():
        pipeline, created = Pipeline.objects.get_or_create(
            project=project, name=name, defaults={"repository_url": url, "provider": provider}
        )
        if not created and pipeline.repository_url != url:
            pipeline.repository_url = url
            pipeline.save(update_fields=["repository_url"])
    return pipeline, created


def set_project_setting(project: Project, key: str, value: str) -> PipelineSetting:
    validate_setting(key, value)
    setting, _ = PipelineSetting.objects.update_or_create(project=project, key=key, defaults={"value": value})
    return setting
