"""200 triggers at once on a project with a quota of 2: never more than two run, first come first served."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from devops.states import State
from devops.testing.quota import Sampler, max_overlap

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TRIGGERS = 200
THREADS = 20  # each opens a database connection: 200 at once would pass PostgreSQL's max_connections
TINY = """
stages:
  - name: Build
    steps:
      - name: tiny
        runScriptConfig:
          image: alpine
          shellScript: echo "run $CICD_EXECUTION_SEQUENCE"
"""


def trigger_burst(trigger, pipeline) -> list[int]:
    """TRIGGERS triggers from THREADS threads released together, each firing back to back."""
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(THREADS)

    def fire(count: int) -> None:
        try:
            go.wait()
            for _ in range(count):
                ex = trigger(pipeline, branch="main")
                with lock:
                    ids.append(ex.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire, args=(TRIGGERS // THREADS,)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    return ids


def test_200_concurrent_triggers_on_a_quota_of_2(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(TINY), quota=2)
    sampler = Sampler(pipeline.project_id)
    sampler.start()
    try:
        ids = trigger_burst(trigger, pipeline)
        t0 = time.monotonic()
        finals = [h.wait_final(i, timeout=120) for i in sorted(ids)]
        print(f"\n{TRIGGERS} triggers at quota 2: all final {time.monotonic() - t0:.1f}s after the last trigger")
    finally:
        sampler.halt.set()
        sampler.join()

    assert len(ids) == TRIGGERS
    assert [e.state for e in finals] == [State.SUCCESS] * TRIGGERS, [h.describe(e.pk) for e in finals[:3]]
    # Never more than two: at every sampled instant, and at every instant of the records (a slot is
    # taken from admission to the end).
    assert sampler.samples > 100
    assert 1 <= sampler.peak <= 2, f"{sampler.peak} executions ran at once under a quota of 2"
    assert max_overlap([(e.admitted_at.timestamp(), e.ended_at.timestamp()) for e in finals]) <= 2
    assert max_overlap([(e.started_at.timestamp(), e.ended_at.timestamp()) for e in finals]) <= 2

    # Creations of one pipeline are serialised by its row lock (the run number), so run order is the
    # order in which they became visible to admission: first come, first served means admission in
    # run order.
    by_run = sorted(finals, key=lambda e: e.run)
    assert [e.run for e in by_run] == list(range(1, TRIGGERS + 1))
    assert [e.pk for e in by_run] == sorted(e.pk for e in by_run)
    admitted = [e.admitted_at for e in by_run]
    overtaken = [(a.run, b.run) for a, b in zip(by_run, by_run[1:], strict=False) if b.admitted_at < a.admitted_at]
    assert not overtaken, f"admitted before an older queued execution (older, newer): {overtaken[:5]}"
    assert max(admitted.count(t) for t in admitted) <= 2
    # Started in the same order, except that two admitted together race to their runners.
    for older, newer in zip(by_run, by_run[1:], strict=False):
        raced = newer.admitted_at <= older.started_at
        assert older.started_at < newer.started_at or raced, f"#{newer.run} started before the older #{older.run}"
