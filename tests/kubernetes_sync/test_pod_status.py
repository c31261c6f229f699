"""Pod and container states as the API reports them become step states with a human reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devops.executors.kubernetes.status import read_pod
from devops.states import State


def container(stage: int, step: int, state: dict[str, Any], image: str = "golang:1.22") -> dict[str, Any]:
    return {"name": f"step-{stage}-{step}", "image": image, "state": state, "ready": False, "restartCount": 0}


def done(code: int, *, skipped: bool = False, reason: str = "Completed") -> dict[str, Any]:
    message = json.dumps({"exit": code, "started": 1.0, "ended": 2.0, "skipped": skipped})
    return {"terminated": {"exitCode": code, "reason": reason, "message": message}}


def pod(*containers: dict[str, Any], phase: str = "Running", node: str = "node-3", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "app-7", "namespace": "team-pipeline"},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "containerStatuses": list(containers), **status},
    }


RUNNING = {"running": {"startedAt": "2026-11-22T03:00:00Z"}}
WAITING = {"waiting": {"reason": "PodInitializing"}}


def states(report) -> dict[tuple[int, int], str]:
    return {(s.stage_index, s.step_index): s.state for s in report.steps}


def test_a_running_pipeline_reads_step_by_step():
    report = read_pod(pod(container(0, 0, done(0)), container(1, 0, RUNNING), container(1, 1, RUNNING),
                          container(2, 0, WAITING)))  # fmt: skip
    assert states(report) == {
        (0, 0): State.SUCCESS,
        (1, 0): State.BUILDING,
        (1, 1): State.BUILDING,
        (2, 0): State.WAITING,
    }
    assert report.node == "node-3" and report.outcome is None


def test_success_when_the_pod_succeeded():
    report = read_pod(pod(container(0, 0, done(0)), container(1, 0, done(0)), phase="Succeeded"))
    assert report.outcome == (State.SUCCESS, "")


def test_a_failed_step_fails_the_execution_and_names_the_step():
    report = read_pod(pod(container(0, 0, done(0)), container(1, 0, done(3)), container(1, 1, RUNNING),
                          container(2, 0, done(0, skipped=True))))  # fmt: skip
    assert states(report)[(1, 0)] == State.FAILED
    assert states(report)[(2, 0)] == State.SKIPPED
    failed = next(s for s in report.steps if s.state == State.FAILED)
    assert failed.exit_code == 3 and failed.reason == "exit code 3"
    assert report.outcome == (State.FAILED, "step 1-0: exit code 3")


def test_runner_exit_code_in_the_termination_message_wins():
    # The runner exits with the step's code, but a wrapper may not: the message is the record.
    terminated = done(0)
    terminated["terminated"]["message"] = json.dumps({"exit": 2, "skipped": False})
    report = read_pod(pod(container(0, 0, terminated)))
    assert report.steps[0].state == State.FAILED and report.steps[0].exit_code == 2


@pytest.mark.parametrize(
    ("waiting", "fragment"),
    [
        ({"reason": "ImagePullBackOff", "message": "Back-off pulling image"}, "image golang:9 cannot be pulled"),
        ({"reason": "InvalidImageName", "message": "bad"}, "image name golang:9 is invalid"),
        ({"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}, 'secret "x" not found'),
    ],
)
def test_fatal_waiting_states_fail_the_step(waiting, fragment):
    report = read_pod(pod(container(0, 0, {"waiting": waiting}, image="golang:9"), container(0, 1, RUNNING)))
    step = report.steps[0]
    assert step.state == State.FAILED and fragment in step.reason
    assert report.outcome is not None and report.outcome[0] == State.FAILED


def test_a_transient_pull_error_keeps_waiting():
    report = read_pod(pod(container(0, 0, {"waiting": {"reason": "ErrImagePull", "message": "timeout"}})))
    assert report.steps[0].state == State.WAITING and report.outcome is None


def test_oom_killed_says_what_to_change():
    report = read_pod(pod(container(0, 0, done(137, reason="OOMKilled"))))
    assert report.steps[0].state == State.FAILED
    assert "OOMKilled" in report.steps[0].reason and "memoryLimit" in report.steps[0].reason


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ({"phase": "Failed", "reason": "DeadlineExceeded"}, (State.ABORTED, "pipeline timed out")),
        ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."},
         (State.FAILED, "pod evicted by the node: The node was low on resource: memory.")),
        ({"phase": "Unknown"}, (State.FAILED, "the node running the pod was lost")),
        ({"phase": "Running", "reason": "NodeLost"}, (State.FAILED, "the node running the pod was lost")),
    ],
)
def test_pod_level_endings(status, outcome):
    raw = pod(container(0, 0, RUNNING))
    raw["status"].update(status)
    report = read_pod(raw)
    assert report.outcome is not None
    assert report.outcome[0] == outcome[0] and report.outcome[1].startswith(outcome[1])


def test_other_containers_are_ignored():
    report = read_pod(pod(container(0, 0, RUNNING), {"name": "istio-proxy", "state": RUNNING}))
    assert [(s.stage_index, s.step_index) for s in report.steps] == [(0, 0)]


def test_all_steps_done_is_success_even_before_the_phase_catches_up():
    report = read_pod(pod(container(0, 0, done(0)), container(1, 0, done(0, skipped=True)), phase="Running"))
    assert report.outcome == (State.SUCCESS, "")


def test_not_all_steps_done_is_no_outcome_yet():
    report = read_pod(pod(container(0, 0, done(0)), container(1, 0, WAITING), phase="Running"))
    assert report.outcome is None
