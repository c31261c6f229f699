"""Reads of executions for the API and the web UI: only what a user may see, in a fixed number of queries.

Every queryset starts from ``devops.access.visible_project_ids`` so an execution of a foreign project
is simply absent (the API answers 404, never 403: no existence leak). The config snapshot and the
extra environment are deferred: a list or a detail never needs them, and a snapshot can be large.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from devops.access import is_staff, visible_project_ids
from devops.logs import LogChunk, get_log_store
from devops.models import PipelineExecution, StageRun, StepRun
from devops.selectors import read_step_log
from devops.states import FINAL_STATES

# Stage and step indexes are PositiveSmallIntegerFields; anything beyond cannot exist.
MAX_UNIT_INDEX = 32767
_HEAVY_FIELDS = ("config", "extra_env")


def visible_executions(user: Any) -> QuerySet[PipelineExecution]:
    """Executions of the projects ``user`` belongs to (all of them for staff), with the pipeline
    and project joined, newest first."""
    queryset = PipelineExecution.objects.all()
    if not is_staff(user):
        queryset = queryset.filter(project_id__in=visible_project_ids(user))
    return (
        queryset.select_related("pipeline", "project", "triggered_by")
        .defer(*_HEAVY_FIELDS)
        .order_by("-created_at", "-id")
    )


def executions_with_units(user: Any) -> QuerySet[PipelineExecution]:
    """``visible_executions`` plus the stages and steps (two prefetch queries for any number of
    executions), for detail views."""
    return visible_executions(user).prefetch_related(
        Prefetch("stages", queryset=StageRun.objects.order_by("index")),
        Prefetch("steps", queryset=StepRun.objects.order_by("stage_index", "index")),
    )


@dataclass(frozen=True)
class StageView:
    """A stage with its steps, as the detail shows it."""

    index: int
    name: str
    state: str
    started_at: Any
    ended_at: Any
    steps: list[StepRun]


def stages_of(execution: PipelineExecution) -> list[StageView]:
    """Group the (prefetched) steps under their stages; a step whose stage row is missing is still
    shown, under a stage named after its index, rather than silently dropped."""
    by_stage: dict[int, list[StepRun]] = {}
    for step in execution.steps.all():
        by_stage.setdefault(step.stage_index, []).append(step)
    views = [
        StageView(s.index, s.name, s.state, s.started_at, s.ended_at, by_stage.pop(s.index, []))
        for s in execution.stages.all()
    ]
    for index, steps in sorted(by_stage.items()):
        views.append(StageView(index, str(index), steps[0].state, None, None, steps))
    return sorted(views, key=lambda v: v.index)


def step_of(execution: PipelineExecution, stage_index: int, step_index: int) -> StepRun | None:
    """One step of an execution the caller already loaded (and checked access to), or None.
    The execution is attached so reading a running log needs no further query for it."""
    if not (0 <= stage_index <= MAX_UNIT_INDEX and 0 <= step_index <= MAX_UNIT_INDEX):
        return None
    step = StepRun.objects.filter(execution_id=execution.pk, stage_index=stage_index, index=step_index).first()
    if step is not None:
        step.execution = execution
    return step


def refreshed_step(step: StepRun) -> StepRun | None:
    """The step's current row (state, exit code, log key), keeping the loaded execution; None if
    the execution was deleted meanwhile."""
    fresh = StepRun.objects.filter(pk=step.pk).first()
    if fresh is not None:
        fresh.execution = step.execution
    return fresh


def step_log_page(step: StepRun, offset: int, limit: int = 1 << 20) -> LogChunk:
    """Up to ``limit`` bytes of the step's log from ``offset``, live or stored.

    A step that never started (or was skipped) has no log key yet: its log reads as empty, and as
    complete once the step is final, since nothing will ever be written to it.
    """
    if not step.log_key:
        return LogChunk(b"", offset, step.state in FINAL_STATES)
    try:
        return read_step_log(step, offset, limit)
    except OSError as exc:
        # A file cannot seek past the filesystem's largest file size (EINVAL): such an offset lies
        # beyond any log, so it reads like any other offset past the end.
        if exc.errno != errno.EINVAL:
            raise
        return LogChunk(b"", offset, get_log_store().size(step.log_key) is not None)
