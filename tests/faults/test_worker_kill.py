"""SIGKILL of a Celery worker mid-step: every execution still reaches a final state, with a reason.

The split deployment of docs/operations.md: an engine worker (``engine,hooks,maintenance``) and a runner
worker (``runner``; each local runner is a thread of it, each step a process group in a session of its
own). Either worker is killed with SIGKILL — no shutdown code runs, and messages it had taken from
Redis are gone with it (they stay unacknowledged for the broker's visibility timeout, an hour). A
replacement worker and beat come up afterwards; the periodic safety net must repair what was lost.
"""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from fault_harness import ProjectLock, final_within, lock_waiters, pipeline_yaml

from devops.models import PipelineExecution, StepRun
from devops.states import FINAL_STATES, State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RECOVERY_SECONDS = 120  # the bound: final within 2 minutes of the fault


def running_steps(execution_ids: list[int]) -> dict[int, StepRun]:
    """The executions' steps that run now, with a process recorded."""
    rows = StepRun.objects.filter(execution_id__in=execution_ids, state=State.BUILDING, pid__isnull=False)
    return {s.execution_id: s for s in rows}


def states(execution_ids: list[int]) -> dict[int, str]:
    return dict(PipelineExecution.objects.filter(pk__in=execution_ids).values_list("id", "state"))


def test_runner_killed_mid_step(faults, make_repo, make_pipeline, trigger, h, tmp_path):
    """The runner worker dies with two steps running and two admitted executions it had taken but not
    started: the first two fail as 'went silent' and their orphaned steps are killed; the other two
    (admitted but never started — their messages died with the worker) are launched again and run."""
    marker = tmp_path / "worker-was-killed"
    script = f'if [ -e {marker} ]; then echo "after the fault"; exit 0; fi\necho "before the fault"\nsleep 300'
    pipeline = make_pipeline(make_repo(pipeline_yaml(script)), quota=4)
    faults.worker("engine", "engine,hooks,maintenance", 4)
    runner = faults.worker("runner", "runner", 2)
    ids = [trigger(pipeline).pk for _ in range(4)]

    def two_running_two_held():
        running, held = running_steps(ids), faults.reserved(runner)
        return (running, held) if len(running) == 2 and len(held) == 2 else None

    running, held = h.wait_until(two_running_two_held, 60, f"never 2 running + 2 held: {states(ids)}", interval=0.2)
    admitted = sorted(set(ids) - set(running))
    assert sorted(args[0] for name, args in held if name == "devops.tasks.run_local_execution") == admitted
    assert set(states(admitted).values()) == {State.WAITING}

    killed_at = timezone.now()
    t0 = faults.kill(runner)
    marker.touch()
    # Nothing of the fault is left in Redis: the held runner tasks were in the dead worker's memory.
    assert faults.broker.queued("runner") == []
    for step in running.values():  # the steps are in sessions of their own: they outlive the runner
        assert h.proc_alive(step.pid), f"step {step.pid} died with its runner"
    faults.worker("runner2", "runner", 4)
    faults.beat()

    finals, took = final_within(h, ids, since=t0, bound=RECOVERY_SECONDS)
    print(f"\nrunner SIGKILL: all {len(ids)} executions final {took:.1f}s after the kill")
    by_id = {e.pk: e for e in finals}
    for execution_id, step in running.items():
        ex = by_id[execution_id]
        assert ex.state == State.FAILED, h.describe(ex.pk)
        assert "went silent" in ex.reason and "worker lost" in ex.reason and ex.node in ex.reason, ex.reason
        step = StepRun.objects.get(pk=step.pk)
        assert step.state == State.ABORTED and "went silent" in step.reason, h.describe(ex.pk)
        # The safety net killed the orphaned step group (sleep 300 would still run otherwise).
        h.wait_until(lambda s=step: h.group_gone(s.pid), 10, f"orphaned step group {step.pid} still runs")
    for execution_id in admitted:
        ex = by_id[execution_id]
        assert ex.state == State.SUCCESS, h.describe(ex.pk)
        assert ex.launched_at > killed_at  # launched again after the fault, not by its first message
        assert "after the fault" in h.stored_log(h.steps_of(ex.pk)["work0"])


def test_engine_worker_killed_mid_step(faults, make_repo, make_pipeline, trigger, h, tmp_path):
    """The engine worker dies while two steps run (on the runner worker, which lives on) and while it
    admits two more executions: the running ones finish normally, and the two whose admission died
    with the worker are admitted by the safety net — before any finish could have admitted them."""
    from django.db import connection

    marker = tmp_path / "may-finish"
    script = f'while [ ! -e {marker} ]; do sleep 0.1; done\necho "finished run $CICD_EXECUTION_SEQUENCE"'
    pipeline = make_pipeline(make_repo(pipeline_yaml(script)), quota=4)
    engine = faults.worker("engine", "engine,hooks,maintenance", 2)
    faults.worker("runner", "runner", 4)
    first = [trigger(pipeline).pk for _ in range(2)]
    h.wait_until(lambda: len(running_steps(first)) == 2, 60, f"steps never ran: {states(first)}", interval=0.2)

    # Both engine threads take an admission of the two new executions and block on the project row.
    with ProjectLock(pipeline.project_id):
        later = [trigger(pipeline).pk for _ in range(2)]
        database = connection.settings_dict["NAME"]

        def admissions_blocked():
            return len([q for q in lock_waiters(database) if "devops_project" in q]) == 2

        h.wait_until(admissions_blocked, 30, "the engine worker never took both admissions", interval=0.1)
        assert [t for t in faults.broker.queued("engine") if t[0] == "devops.tasks.admit"] == []
        t0 = faults.kill(engine)
    # Two free slots, two queued executions, and no message left that would admit them.
    assert states(later) == {i: State.QUEUEING for i in later}
    assert states(first) == {i: State.BUILDING for i in first}
    faults.worker("engine2", "engine,hooks,maintenance", 2)
    faults.beat()

    h.wait_until(lambda: len(running_steps(later)) == 2, RECOVERY_SECONDS, f"never re-admitted: {states(later)}")
    readmitted = time.monotonic() - t0
    # Re-admitted while the first two still ran: the safety net did it, not a finish.
    assert states(first) == {i: State.BUILDING for i in first}
    marker.touch()
    finals, took = final_within(h, first + later, since=t0, bound=RECOVERY_SECONDS)
    print(f"\nengine worker SIGKILL: lost admissions re-admitted {readmitted:.1f}s, all final {took:.1f}s after")
    assert [e.state for e in finals] == [State.SUCCESS] * 4, [h.describe(e.pk) for e in finals]
    for ex in finals:
        assert f"finished run {ex.run}" in h.stored_log(h.steps_of(ex.pk)["work0"])
    assert all(e.state in FINAL_STATES for e in PipelineExecution.objects.filter(pipeline=pipeline))
