"""Stream an execution's step states and log lines to a terminal until it ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from devops.models import PipelineExecution, StepRun
from devops.selectors import read_step_log
from devops.states import FINAL_STATES


def follow(
    execution_id: int,
    *,
    out: TextIO = sys.stdout,
    show_logs: bool = True,
    interval: float = 0.2,
    on_tick: Callable[[], None] | None = None,
) -> str:
    """Print each step's state changes and new log lines; return the execution's final state."""
    seen_state: dict[int, str] = {}
    offsets: dict[int, int] = {}
    complete: set[int] = set()
    partial: dict[int, str] = {}
    final_since: float | None = None
    stage_names = dict(
        PipelineExecution.objects.get(pk=execution_id).stages.values_list("index", "name")
    )
    while True:
        state = PipelineExecution.objects.values_list("state", flat=True).get(pk=execution_id)
        steps = list(StepRun.objects.filter(execution_id=execution_id).select_related("execution__project"))
        for step in steps:
            label = f"{stage_names.get(step.stage_index, step.stage_index)}/{step.name}"
            changed = seen_state.get(step.pk) != step.state
            if changed and step.state not in FINAL_STATES:
                seen_state[step.pk] = step.state
                out.write(f"==> {label}: {step.state}\n")
            if show_logs and step.log_key and step.pk not in complete:
                chunk = read_step_log(step, offsets.get(step.pk, 0))
                done = chunk.complete and step.state in FINAL_STATES
                # Hold a trailing partial line back until its newline (or the log's end) arrives.
                text = partial.pop(step.pk, "") + chunk.data.decode("utf-8", "replace")
                lines = text.split("\n")
                tail = lines.pop()
                if tail and done:
                    lines.append(tail)
                elif tail:
                    partial[step.pk] = tail
                for line in lines:
                    out.write(f"{label} | {line}\n")
                offsets[step.pk] = chunk.next_offset
                if done:
                    complete.add(step.pk)
            # A final state prints after the step's last lines, so the log reads in order.
            logged = step.pk in complete or not step.log_key or not show_logs
            if changed and step.state in FINAL_STATES and logged:
                seen_state[step.pk] = step.state
                extra = f" ({step.reason})" if step.reason else ""
                out.write(f"==> {label}: {step.state}{extra}\n")
        out.flush()
        logs_done = all(s.pk in complete or not s.log_key for s in steps) or not show_logs
        if state in FINAL_STATES:
            for step in steps:  # a step whose log never arrived (runner killed) still shows its end
                if seen_state.get(step.pk) != step.state and final_since is not None:
                    seen_state[step.pk] = step.state
                    out.write(f"==> {stage_names.get(step.stage_index)}/{step.name}: {step.state}\n")
            final_since = final_since or time.monotonic()
            # A runner killed mid-step never stores its log: do not wait for it forever.
            if logs_done or time.monotonic() - final_since > 5:
                return state
        if on_tick is not None:
            on_tick()
        time.sleep(interval)
