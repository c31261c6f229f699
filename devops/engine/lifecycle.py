"""Start, advance, abort and finish an execution.

Runners and syncs report through these functions only; each applies the transition table and returns
whether the change happened, so a late or repeated report is harmless.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from devops.models import Pipeline, PipelineExecution
from devops.states import State

from . import hooks, transitions
from .dispatch import admit_later, after_commit

log = logging.getLogger(__name__)


def start(execution_id: int) -> bool:
    """Hand an admitted execution to its project's executor. Safe to repeat: the runner's
    ``mark_building`` lets only one launch win."""
    from devops.executors import executor_for

    execution = PipelineExecution.objects.select_related("project", "pipeline").filter(pk=execution_id).first()
    if execution is None or execution.state != State.WAITING:
        return False
    try:
        executor = executor_for(execution.project)
        executor.prepare(execution.project)
        PipelineExecution.objects.filter(pk=execution_id).update(launched_at=timezone.now())
        executor.launch(execution)
    except Exception as exc:  # noqa: BLE001 - any launch failure must end the execution with a reason
        log.exception("launch of execution %s failed", execution_id)
        finish(execution_id, State.FAILED, f"could not launch: {exc}")
        return False
    return True


def mark_building(execution_id: int, *, node: str) -> bool:
    now = timezone.now()
    return transitions.move_execution(execution_id, State.BUILDING, node=node, heartbeat_at=now)


def stage_started(execution_id: int, stage_index: int) -> bool:
    return transitions.move_stage(execution_id, stage_index, State.BUILDING)


def stage_finished(execution_id: int, stage_index: int, state: str) -> bool:
    return transitions.move_stage(execution_id, stage_index, state)


def step_started(
    execution_id: int, stage_index: int, step_index: int, *, pid: int | None, host: str, log_key: str
) -> bool:
    return transitions.move_step(
        execution_id, stage_index, step_index, State.BUILDING, pid=pid, host=host, log_key=log_key
    )


def step_finished(
    execution_id: int,
    stage_index: int,
    step_index: int,
    state: str,
    *,
    exit_code: int | None = None,
    reason: str = "",
) -> bool:
    return transitions.move_step(
        execution_id, stage_index, step_index, state, exit_code=exit_code, reason=reason[:2000]
    )


def finish(execution_id: int, state: str, reason: str = "") -> bool:
    """Enter a final state; frees the quota, records the pipeline's last run and runs finish hooks."""
    with transaction.atomic():
        if not transitions.move_execution(execution_id, state, reason=reason[:2000]):
            return False
        running_to = State.ABORTED if state in (State.ABORTED, State.FAILED) else State.SUCCESS
        transitions.close_open_units(execution_id, running_to, State.SKIPPED, reason)
        execution = PipelineExecution.objects.only("id", "pipeline_id", "project_id", "ended_at").get(
            pk=execution_id
        )
        # Only a newer run may overwrite the pipeline's last state: finishes can arrive out of order.
        Pipeline.objects.filter(pk=execution.pipeline_id).exclude(
            last_run_at__gt=execution.ended_at
        ).update(last_run_state=state, last_run_at=execution.ended_at)
        admit_later(execution.project_id)
        after_commit(hooks.execution_finished, execution_id)
    return True


def abort(execution_id: int, reason: str = "aborted by user") -> bool:
    """Abort from any non-final state; the executor stops what runs (the local runner also notices
    within a heartbeat)."""
    if not finish(execution_id, State.ABORTED, reason):
        return False
    after_commit(_stop_processes, execution_id)
    return True


def _stop_processes(execution_id: int) -> None:
    from devops.executors import executor_for

    execution = PipelineExecution.objects.select_related("project").filter(pk=execution_id).first()
    if execution is not None:
        executor_for(execution.project).abort(execution)
