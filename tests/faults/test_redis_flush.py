"""Redis loses every message (FLUSHDB, or a restart without persistence) while 50 executions wait: all
of them still run, because PostgreSQL holds the truth and the periodic safety net re-sends what a lost
message would have done."""

from __future__ import annotations

import time

import pytest
from fault_harness import final_within, pipeline_yaml

from devops.models import PipelineExecution
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCRIPT = 'echo "run $CICD_EXECUTION_SEQUENCE of $CICD_PIPELINE_ID"'


def test_all_50_run_after_redis_lost_their_messages(faults, make_repo, make_pipeline, trigger, h):
    repo = make_repo(pipeline_yaml(SCRIPT))
    admitted_project = make_pipeline(repo, quota=5)
    queued_project = make_pipeline(repo, quota=5)

    # The first project's executions were admitted by an engine worker, but no runner took them yet:
    # five wait in Waiting with their runner tasks in Redis, twenty in Queueing.
    engine = faults.worker("engine", "engine", 2)
    first = [trigger(admitted_project).pk for _ in range(25)]

    def five_launched():
        return PipelineExecution.objects.filter(pk__in=first, state=State.WAITING, launched_at__isnull=False).count()

    h.wait_until(lambda: five_launched() == 5, 60, "five executions were never launched", interval=0.1)
    h.stop_worker(engine.proc)
    # The second project's executions were never admitted: their admissions wait in Redis.
    second = [trigger(queued_project).pk for _ in range(25)]
    assert [t[0] for t in faults.broker.queued("runner")] == ["devops.tasks.run_local_execution"] * 5
    assert [t[0] for t in faults.broker.queued("engine")] == ["devops.tasks.admit"] * 25
    states = PipelineExecution.objects.filter(pk__in=first + second).values_list("state", flat=True)
    assert sorted(states) == [State.QUEUEING] * 45 + [State.WAITING] * 5

    assert faults.broker.flush() > 0
    assert faults.broker.keys() == []
    t0 = time.monotonic()
    faults.worker("all", "engine,runner,hooks,maintenance", 8)
    faults.beat()

    finals, took = final_within(h, first + second, since=t0, bound=120)
    print(f"\nRedis flushed with 45 queued + 5 admitted: all 50 final {took:.1f}s after the flush")
    assert [e.state for e in finals] == [State.SUCCESS] * 50, [h.describe(e.pk) for e in finals if e.state != "Success"]
    for ex in finals:
        log = h.stored_log(h.steps_of(ex.pk)["work0"])
        assert f"run {ex.run} of {ex.pipeline_id}" in log, log
