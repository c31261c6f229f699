"""Reads that more than one caller needs (HackSoft style: selectors read, services write)."""

from __future__ import annotations

from devops.models import PipelineSetting, Project
from devops.project_settings import SETTINGS


def project_settings(project: Project | int) -> dict[str, str]:
    """Every key with its stored value or its default."""
    project_id = project if isinstance(project, int) else project.pk
    stored = dict(PipelineSetting.objects.filter(project_id=project_id).values_list("key", "value"))
    return {key: stored.get(key, d.default()) for key, d in SETTINGS.items()}


def project_setting(project: Project | int, key: str) -> str:
    project_id = project if isinstance(project, int) else project.pk
    value = PipelineSetting.objects.filter(project_id=project_id, key=key).values_list("value", flat=True).first()
    return value if value is not None else SETTINGS[key].default()
