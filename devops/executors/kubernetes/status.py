"""Read a pod's status as step states, with a reason a person can act on.

Pure functions over the pod as the API returns it (a JSON dict), so the sync can feed them from one
list call per namespace and the tests from hand-written pods. Each step container's runner writes a
termination message ``{"exit": N, "started": t, "ended": t, "skipped": bool}``; the container state
and the pod's phase and reason cover what the runner never saw (image pulls, OOM, eviction, a lost
node, the deadline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from devops.executors.base import StepStatus
from devops.states import State

from .names import parse_container_name

# A pull that has failed and is being retried with back-off will not fix itself: the image name, tag
# or registry credential is wrong. ErrImagePull alone can be a passing registry hiccup.
FATAL_WAITING = {
    "ImagePullBackOff": "image {image} cannot be pulled",
    "InvalidImageName": "image name {image} is invalid",
    "CreateContainerConfigError": "container configuration is invalid (a missing secret or key?)",
    "CreateContainerError": "container could not be created",
    "CrashLoopBackOff": "container keeps crashing",
}


@dataclass
class PodReport:
    """What one pod says about its execution."""

    steps: list[StepStatus] = field(default_factory=list)
    node: str = ""
    # Set when the pod itself ended the execution: (final state, reason).
    outcome: tuple[str, str] | None = None


def _termination_message(terminated: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(terminated.get("message") or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def container_step_state(status: dict[str, Any]) -> tuple[str, int | None, str]:
    """(state, exit code, reason) of one step container."""
    state = status.get("state") or {}
    image = status.get("image", "")
    if "terminated" in state:
        terminated = state["terminated"]
        code = terminated.get("exitCode")
        message = _termination_message(terminated)
        if message.get("skipped"):
            return State.SKIPPED, None, "an earlier step failed"
        if terminated.get("reason") == "OOMKilled":
            return State.FAILED, code, "out of memory (OOMKilled): raise the step's memoryLimit"
        code = message.get("exit", code)
        if code == 0:
            return State.SUCCESS, 0, ""
        return State.FAILED, code, f"exit code {code}"
    if "running" in state:
        return State.BUILDING, None, ""
    waiting = state.get("waiting") or {}
    template = FATAL_WAITING.get(waiting.get("reason", ""))
    if template:
        detail = waiting.get("message", "")
        reason = template.format(image=image)
        return State.FAILED, None, f"{reason}: {detail}" if detail else reason
    return State.WAITING, None, ""


def _pod_outcome(pod: dict[str, Any]) -> tuple[str, str] | None:
    status = pod.get("status") or {}
    reason, message = status.get("reason", ""), status.get("message", "")
    if reason == "DeadlineExceeded":
        return State.ABORTED, "pipeline timed out (activeDeadlineSeconds)"
    if reason == "Evicted":
        return State.FAILED, f"pod evicted by the node: {message}".rstrip(": ")
    if reason == "NodeLost" or status.get("phase") == "Unknown":
        return State.FAILED, "the node running the pod was lost"
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        return State.ABORTED, "the pod was deleted"
    return None


def _hold_until_previous_stage_ends(steps: list[StepStatus]) -> list[StepStatus]:
    """Every container starts with the pod, but its runner waits for the previous stage's markers first,
    and skips its step unless all of them succeeded: until then a running container is a waiting step."""
    held, hold, stage, stage_blocks = [], False, None, False
    for status in steps:
        if status.stage_index != stage:
            hold, stage, stage_blocks = stage_blocks, status.stage_index, False
        if hold and status.state == State.BUILDING:
            status = replace(status, state=State.WAITING)
        stage_blocks = stage_blocks or status.state != State.SUCCESS
        held.append(status)
    return held


def read_pod(pod: dict[str, Any]) -> PodReport:
    """Step states from the pod; the caller applies them through the engine (idempotent)."""
    report = PodReport(node=(pod.get("spec") or {}).get("nodeName") or "")
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        position = parse_container_name(container.get("name", ""))
        if position is None:
            continue
        state, code, reason = container_step_state(container)
        report.steps.append(StepStatus(position[0], position[1], state, code, reason))
    report.steps.sort(key=lambda s: (s.stage_index, s.step_index))
    report.steps = _hold_until_previous_stage_ends(report.steps)
    report.outcome = _pod_outcome(pod)
    if report.outcome is None:
        # One failed step fails the execution at once: its running siblings are stopped with the pod,
        # and a step that never started (image pull) would leave the later stages waiting forever.
        failed = next((s for s in report.steps if s.state == State.FAILED), None)
        if failed is not None:
            report.outcome = (State.FAILED, f"step {failed.stage_index}-{failed.step_index}: {failed.reason}")
        elif status.get("phase") == "Succeeded" or (
            report.steps and all(s.state in (State.SUCCESS, State.SKIPPED) for s in report.steps)
        ):
            report.outcome = (State.SUCCESS, "")
    return report
