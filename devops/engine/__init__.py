"""The execution state machine: create, admit (quota), start, advance, abort, finish.

Entry points are idempotent; all state writes go through ``transitions``.
"""

from .admission import admit
from .create import TriggerInfo, create_execution, rerun
from .lifecycle import (
    abort,
    finish,
    mark_building,
    stage_finished,
    stage_started,
    start,
    step_finished,
    step_started,
)

__all__ = [
    "TriggerInfo",
    "abort",
    "admit",
    "create_execution",
    "finish",
    "mark_building",
    "rerun",
    "stage_finished",
    "stage_started",
    "start",
    "step_finished",
    "step_started",
]
