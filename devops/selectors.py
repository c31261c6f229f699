"""Reads that more than one caller needs (HackSoft style: selectors read, services write)."""

from __future__ import annotations

from devops.logs import LogChunk, get_live_log, get_log_store, read_log
from devops.models import PipelineSetting, Project, StepRun
from devops.project_settings import SETTINGS
from devops.states import State


def project_settings(project: Project | int) -> dict[str, str]:
    """Every key with its stored value or its default."""
    project_id = project if isinstance(project, int) else project.pk
    stored = dict(PipelineSetting.objects.filter(project_id=project_id).values_list("key", "value"))
    return {key: stored.get(key, d.default()) for key, d in SETTINGS.items()}


def project_setting(project: Project | int, key: str) -> str:
    project_id = project if isinstance(project, int) else project.pk
    value = PipelineSetting.objects.filter(project_id=project_id, key=key).values_list("value", flat=True).first()
    return value if value is not None else SETTINGS[key].default()


def read_step_log(step: StepRun, offset: int = 0, limit: int | None = 1 << 20) -> LogChunk:
    """One page of a step's log, live or finished, whichever executor ran it: the same call serves
    a follower and a reader of an old execution."""
    chunk = read_log(step.log_key, offset, limit, live=get_live_log(), store=get_log_store())
    if chunk.data or chunk.complete or step.state != State.BUILDING:
        return chunk
    from devops.executors import executor_for

    execution = step.execution
    running = executor_for(execution.project).read_running_log(execution, step.stage_index, step.index)
    if running is None:
        return chunk
    data = running[offset:] if limit is None else running[offset : offset + limit]
    return LogChunk(data=data, next_offset=offset + len(data), complete=False)
