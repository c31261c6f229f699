"""The transition table, and the only code that writes ``state``.

Every change is a conditional UPDATE (``... WHERE id = ? AND state IN (<allowed sources>)``): when two
workers race, the database lets exactly one win and the loser learns it from the row count. That makes
every engine entry point safe to call twice.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from devops.models import PipelineExecution, StageRun, StepRun
from devops.states import State

Q, W, B, S, F, A, K = (
    State.QUEUEING,
    State.WAITING,
    State.BUILDING,
    State.SUCCESS,
    State.FAILED,
    State.ABORTED,
    State.SKIPPED,
)

# to-state -> the states it may be entered from.
EXECUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    W: frozenset({Q}),  # admitted under the quota
    B: frozenset({W}),  # a runner picked it up
    S: frozenset({B}),
    F: frozenset({Q, W, B}),  # e.g. the runner went silent, or the launch failed
    A: frozenset({Q, W, B}),
}

# Stages and steps share one table.
UNIT_TRANSITIONS: dict[str, frozenset[str]] = {
    B: frozenset({W}),
    S: frozenset({B}),
    F: frozenset({W, B}),
    A: frozenset({W, B}),
    K: frozenset({W}),
}

_TIMESTAMPS = {B: "started_at"}


def _apply(
    model: type[models.Model],
    table: dict[str, frozenset[str]],
    filters: dict[str, Any],
    to: str,
    fields: dict[str, Any],
) -> int:
    sources = table.get(to)
    if sources is None:
        raise ValueError(f"{model.__name__}: no transition into {to}")
    now = timezone.now()
    values = dict(fields)
    values["state"] = to
    if to in _TIMESTAMPS:
        values.setdefault(_TIMESTAMPS[to], now)
    if to in (S, F, A, K):
        values.setdefault("ended_at", now)
    return model.objects.filter(state__in=sources, **filters).update(**values)


def move_execution(execution_id: int, to: str, **fields: Any) -> bool:
    """Move one execution; False when it was not in a state that may move to ``to``."""
    return _apply(PipelineExecution, EXECUTION_TRANSITIONS, {"pk": execution_id}, to, fields) == 1


def move_stage(execution_id: int, stage_index: int, to: str, **fields: Any) -> bool:
    filters = {"execution_id": execution_id, "index": stage_index}
    return _apply(StageRun, UNIT_TRANSITIONS, filters, to, fields) == 1


def move_step(execution_id: int, stage_index: int, step_index: int, to: str, **fields: Any) -> bool:
    filters = {"execution_id": execution_id, "stage_index": stage_index, "index": step_index}
    return _apply(StepRun, UNIT_TRANSITIONS, filters, to, fields) == 1


def close_open_units(execution_id: int, to_running: str, to_waiting: str, reason: str = "") -> None:
    """On a final execution state: running units become ``to_running``, untouched ones ``to_waiting``.

    A step that never started says why too (a Skipped step without a reason reads as a `when` that
    did not match, or as nothing at all)."""
    for model in (StepRun, StageRun):
        fields: dict[str, Any] = {"reason": reason} if model is StepRun and reason else {}
        _apply(model, UNIT_TRANSITIONS, {"execution_id": execution_id, "state": B}, to_running, fields)
        never_ran = {"reason": f"not run: {reason or 'the execution ended'}"} if model is StepRun else {}
        _apply(model, UNIT_TRANSITIONS, {"execution_id": execution_id, "state": W}, to_waiting, never_ran)
