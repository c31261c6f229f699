"""Ending an execution from outside: abort, timeouts, and a runner whose worker was killed."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from devops import engine
from devops.engine import maintenance
from devops.models import PipelineExecution, StepRun
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A step that leaves a background child in its group and says which pid it has.
LONG_SCRIPT = """\
            sleep 300 &
            echo "child=$!"
            sleep 300
            wait
"""


def long_pipeline(step_timeout: str = "", pipeline_timeout: str = "") -> str:
    top = f"timeout: {pipeline_timeout}\n" if pipeline_timeout else ""
    step = f"        timeout: {step_timeout}\n" if step_timeout else ""
    return (
        f"{top}stages:\n  - name: Run\n    steps:\n      - name: long\n{step}"
        f"        runScriptConfig:\n          image: alpine\n          shellScript: |\n{LONG_SCRIPT}"
    )


def wait_running(h, execution_id: int, timeout: float = 20) -> tuple[StepRun, int]:
    """Wait until the long step runs and printed its child's pid; returns (step, child pid)."""

    def ready():
        step = StepRun.objects.filter(execution_id=execution_id, name="long", state=State.BUILDING).first()
        if step is None or not step.pid or not step.log_key:
            return None
        match = re.search(rb"child=(\d+)", h.read_whole_log(step.log_key)[0])
        return (step, int(match.group(1))) if match else None

    step, child = h.wait_until(ready, timeout, f"step never ran:\n{h.describe(execution_id)}")
    # The check below can fail: before the stop, the group holds the shell and both sleeps.
    members = h.group_members(step.pid)
    assert step.pid in members and child in members and len(members) >= 3, members
    return step, child


def assert_group_killed(h, pgid: int, child: int, within: float) -> None:
    h.wait_until(lambda: h.group_gone(pgid) and not h.proc_alive(child), within, f"group {pgid} still alive")


def test_abort_kills_the_whole_process_group(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(long_pipeline()))
    ex = trigger(pipeline)
    step, child = wait_running(h, ex.pk)

    t0 = time.monotonic()
    assert engine.abort(ex.pk) is True
    assert engine.abort(ex.pk) is False  # a second abort is a harmless no-op
    ex = h.wait_final(ex.pk, timeout=5)
    assert ex.state == State.ABORTED and ex.reason == "aborted by user"
    assert_group_killed(h, step.pid, child, within=5 - (time.monotonic() - t0))
    assert time.monotonic() - t0 < 5

    step = StepRun.objects.get(pk=step.pk)
    assert step.state == State.ABORTED and step.ended_at is not None
    # The runner noticed too: it ended the step's log (stored) and did not overwrite the state.
    log = h.stored_log(step)
    assert "child=" in log and log.rstrip().endswith("[devops] aborted by user"), log
    time.sleep(1.5)  # a heartbeat later, a late report of the runner must not change anything
    assert PipelineExecution.objects.get(pk=ex.pk).state == State.ABORTED
    assert StepRun.objects.get(pk=step.pk).state == State.ABORTED


@pytest.mark.parametrize(
    ("yaml_kwargs", "expected"),
    [
        ({"step_timeout": "0.05"}, "step timed out after 0.05 min"),
        ({"pipeline_timeout": "0.05"}, "pipeline timed out after 0.05 min"),
    ],
    ids=["step-timeout", "pipeline-timeout"],
)
def test_timeout_aborts_and_kills_the_group(worker, make_repo, make_pipeline, trigger, h, yaml_kwargs, expected):
    pipeline = make_pipeline(make_repo(long_pipeline(**yaml_kwargs)))
    ex = trigger(pipeline)
    step, child = wait_running(h, ex.pk)
    ex = h.wait_final(ex.pk, timeout=15)

    assert ex.state == State.ABORTED, h.describe(ex.pk)
    assert "timed out" in ex.reason and expected in ex.reason, ex.reason
    took = (ex.ended_at - ex.started_at).total_seconds()
    assert 3 <= took < 9, f"a 3 s timeout ended the execution after {took:.1f}s"
    step = StepRun.objects.get(pk=step.pk)
    assert step.state == State.ABORTED and expected in step.reason
    assert_group_killed(h, step.pid, child, within=5)
    assert expected in h.stored_log(step)


def test_killed_runner_is_failed_by_the_safety_net(worker, make_repo, make_pipeline, trigger, h, tmp_path):
    """SIGKILL the worker that runs the runner: the heartbeat stops, the safety net fails the
    execution and kills the orphaned step group."""
    from config.celery import app

    # The session worker stops taking runners; a second worker takes this one, and dies.
    app.control.cancel_consumer("runner", destination=[worker.name], reply=True, timeout=5)
    victim = None
    try:
        victim_name = f"victim-{os.getpid()}@%h"
        victim = h.start_worker(worker.env, victim_name, "runner", 2, tmp_path / "victim.log")
        pipeline = make_pipeline(make_repo(long_pipeline()))
        ex = trigger(pipeline)
        step, child = wait_running(h, ex.pk)
        full_name = victim_name.replace("%h", os.uname().nodename)
        active = app.control.inspect(destination=[full_name], timeout=2).active() or {}
        assert [t["args"] for t in active.get(full_name, [])] == [[ex.pk]], active

        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        # Nothing reports any more; the steps themselves live on in their own sessions.
        assert h.proc_alive(step.pid) and h.proc_alive(child)

        results = []

        def failed_by_net():
            results.append(maintenance.safety_net())
            return PipelineExecution.objects.get(pk=ex.pk).state != State.BUILDING

        h.wait_until(failed_by_net, h.silence_seconds + 10, "the safety net never noticed", interval=0.5)
        silent_for = time.monotonic() - killed_at
        assert silent_for >= h.silence_seconds - 1.5  # not before the runner was silent long enough
        assert any(r["failed_silent"] == 1 for r in results), results
        ex = PipelineExecution.objects.get(pk=ex.pk)
        assert ex.state == State.FAILED
        assert "went silent" in ex.reason and ex.node in ex.reason, ex.reason
        assert StepRun.objects.get(pk=step.pk).state == State.ABORTED
        assert_group_killed(h, step.pid, child, within=5)
        assert maintenance.safety_net()["failed_silent"] == 0  # idempotent
    finally:
        if victim is not None:
            h.stop_worker(victim)
        app.control.add_consumer("runner", destination=[worker.name], reply=True, timeout=5)
