"""PostgreSQL drops every connection mid-run (a restart, a failover, an operator's pg_terminate_backend):
the executions that were running still end Success with every step recorded and every log stored."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from fault_harness import final_within, pipeline_yaml

from devops.models import StageRun, StepRun
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LINES = 20
SCRIPT = f'for i in $(seq {LINES}); do echo "stage $STAGE line $i of run $CICD_EXECUTION_SEQUENCE"; sleep 0.1; done'


def terminate_other_sessions() -> int:
    """Drop every connection to the test database but this one (the workers', the runners', beat's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )
        return cursor.fetchone()[0]


def test_connections_dropped_mid_run_lose_nothing(faults, make_repo, make_pipeline, trigger, h):
    yaml = pipeline_yaml(SCRIPT.replace("$STAGE", "0"), SCRIPT.replace("$STAGE", "1"))
    pipeline = make_pipeline(make_repo(yaml), quota=4)
    faults.worker("all", "engine,runner,hooks,maintenance", 6)
    faults.beat()
    # Four run; two wait in Queueing for a finish to admit them (engine tasks on reused connections).
    ids = [trigger(pipeline).pk for _ in range(6)]

    def four_started() -> bool:
        return StepRun.objects.filter(execution_id__in=ids, name="work0", pid__isnull=False).count() == 4

    h.wait_until(four_started, 60, "the four runners never reached their first step", interval=0.1)
    dropped = []
    for _ in range(4):  # mid-step, then while steps end, stages change and the next steps start
        dropped.append(terminate_other_sessions())
        time.sleep(1)
    t0 = time.monotonic()
    assert dropped[0] >= 4, dropped  # the four runners, mid-run, each had a connection to lose

    finals, took = final_within(h, ids, since=t0, bound=120)
    print(f"\nPostgreSQL connections dropped {dropped}: all final {took:.1f}s after the last drop")
    assert [e.state for e in finals] == [State.SUCCESS] * 6, [h.describe(e.pk) for e in finals]
    for ex in finals:
        assert ex.reason == ""
        stages = StageRun.objects.filter(execution_id=ex.pk)  # the source checkout's stage, then ours
        assert {(s.state, s.started_at is not None, s.ended_at is not None) for s in stages} == {
            (State.SUCCESS, True, True)
        }
        steps = h.steps_of(ex.pk)
        for stage in (0, 1):
            step = steps[f"work{stage}"]
            assert (step.state, step.exit_code, step.reason) == (State.SUCCESS, 0, ""), h.describe(ex.pk)
            assert step.started_at is not None and step.ended_at is not None
            log = h.stored_log(step)
            expected = [f"stage {stage} line {i} of run {ex.run}" for i in range(1, LINES + 1)]
            assert [line for line in log.splitlines() if line.startswith("stage ")] == expected
