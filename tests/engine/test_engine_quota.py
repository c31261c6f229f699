"""The project quota under a burst of concurrent triggers, and run numbers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.db.models import F

from devops import engine
from devops.models import PipelineExecution, Project
from devops.states import State
from devops.testing.quota import Sampler, max_overlap

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TINY = """
stages:
  - name: Build
    steps:
      - name: tiny
        runScriptConfig:
          image: alpine
          shellScript: echo "run $CICD_EXECUTION_SEQUENCE"
"""


def _trigger_in_threads(trigger, pipeline, count: int) -> list[int]:
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(count)

    def one() -> None:
        try:
            go.wait()
            ex = trigger(pipeline, branch="main")
            with lock:
                ids.append(ex.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(ids) == count
    return ids


def test_quota_holds_under_50_concurrent_triggers(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(TINY), quota=2)
    project_id = pipeline.project_id
    sampler = Sampler(project_id)
    sampler.start()
    try:
        # 50 triggers race each other and admission: the quota must hold throughout.
        ids = _trigger_in_threads(trigger, pipeline, 50)
        finals = [h.wait_final(i, timeout=90) for i in sorted(ids)]
    finally:
        sampler.halt.set()
        sampler.join()

    assert [e.state for e in finals] == [State.SUCCESS] * 50, [h.describe(e.pk) for e in finals if e.state != "Success"]
    assert sampler.samples > 100
    assert 1 <= sampler.peak <= 2, f"{sampler.peak} executions ran at once under a quota of 2"
    # The records say the same at every instant, not only at the sampled ones: a slot is taken from
    # admission to the end.
    intervals = [(e.admitted_at.timestamp(), e.ended_at.timestamp()) for e in finals]
    assert max_overlap(intervals) <= 2
    # Concurrent triggers of one pipeline get distinct, consecutive run numbers.
    assert sorted(e.run for e in finals) == list(range(1, 51))


def test_admission_is_first_come_first_served(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(TINY), quota=2)
    project_id = pipeline.project_id
    # Hold the row lock admission takes (a plain UPDATE of the project row) while 30 triggers queue
    # up concurrently; creating executions does not need it. Then every admission sees all of them.
    with transaction.atomic():
        Project.objects.filter(pk=project_id).update(admission_seq=F("admission_seq") + 1)
        ids = _trigger_in_threads(trigger, pipeline, 30)
        assert PipelineExecution.objects.filter(pk__in=ids, state=State.QUEUEING).count() == 30
    finals = [h.wait_final(i, timeout=90) for i in sorted(ids)]
    assert all(e.state == State.SUCCESS for e in finals), [h.describe(e.pk) for e in finals]

    by_id = sorted(finals, key=lambda e: e.pk)
    admitted = [e.admitted_at for e in by_id]
    assert admitted == sorted(admitted), "an execution was admitted before an older queued one"
    # One admission fills every free slot (two at the start, or two when two finishes race), so
    # some share a timestamp; never more than the quota.
    assert max(admitted.count(t) for t in admitted) <= 2
    # Started in the same order, except that two waiting at the same time (admitted by two finishes
    # a few milliseconds apart) race to their runners: a newer one may start first only if it was
    # already admitted when the older one started.
    for older, newer in zip(by_id, by_id[1:], strict=False):
        raced = newer.admitted_at <= older.started_at
        assert older.started_at < newer.started_at or raced, f"#{newer.run} started before the older #{older.run}"
    assert max_overlap([(e.admitted_at.timestamp(), e.ended_at.timestamp()) for e in finals]) <= 2


RERUN_V1 = TINY.replace('echo "run $CICD_EXECUTION_SEQUENCE"', 'echo "config v1, run $CICD_EXECUTION_SEQUENCE"')
RERUN_V2 = TINY.replace('echo "run $CICD_EXECUTION_SEQUENCE"', 'echo "config v2"')


def test_rerun_keeps_the_config_snapshot_and_gets_a_new_run_number(worker, make_repo, make_pipeline, trigger, h):
    repo = make_repo(RERUN_V1)
    pipeline = make_pipeline(repo, quota=0)
    first = h.wait_final(trigger(pipeline).pk)
    assert first.state == State.SUCCESS and first.run == 1, h.describe(first.pk)
    repo.commit({".devops.yml": RERUN_V2}, "change the pipeline")  # a new head must not matter

    again = engine.rerun(first)
    assert again.run == 2 and again.rerun_of_id == first.pk
    again = h.wait_final(again.pk)
    assert again.state == State.SUCCESS, h.describe(again.pk)
    assert again.config == first.config
    assert again.commit == first.commit != repo.head()
    log = h.stored_log(h.steps_of(again.pk)["tiny"])
    assert "config v1, run 2" in log and "config v2" not in log

    # A normal trigger now takes the new head and its file, with the next number.
    third = h.wait_final(trigger(pipeline).pk)
    assert third.run == 3 and third.commit == repo.head()
    assert "config v2" in h.stored_log(h.steps_of(third.pk)["tiny"])
