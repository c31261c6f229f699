"""Stages in order, steps of a stage at once, and what a failing step does to the others."""

from __future__ import annotations

import re

import pytest

from devops.models import StageRun
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PARALLEL = """
stages:
  - name: Both
    steps:
      - name: left
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "start $(date +%s.%N)"
            sleep 1.5
            echo "end $(date +%s.%N)"
      - name: right
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "start $(date +%s.%N)"
            sleep 1.5
            echo "end $(date +%s.%N)"
"""


def _interval(log: str) -> tuple[float, float]:
    start = float(re.search(r"^start (\S+)$", log, re.M).group(1))
    end = float(re.search(r"^end (\S+)$", log, re.M).group(1))
    return start, end


def test_steps_of_a_stage_run_at_the_same_time(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(PARALLEL))
    ex = h.wait_final(trigger(pipeline).pk)
    assert ex.state == State.SUCCESS, h.describe(ex.pk)

    steps = h.steps_of(ex.pk)
    (l_start, l_end), (r_start, r_end) = (_interval(h.stored_log(steps[n])) for n in ("left", "right"))
    # The two 1.5 s sleeps overlap by most of their length: run one after the other they could not.
    overlap = min(l_end, r_end) - max(l_start, r_start)
    assert overlap > 1.0, (l_start, l_end, r_start, r_end)
    # The records agree: each step's [started_at, ended_at] overlaps the other's.
    left, right = steps["left"], steps["right"]
    assert left.started_at < right.ended_at and right.started_at < left.ended_at
    stage = StageRun.objects.get(execution_id=ex.pk, name="Both")
    took = (stage.ended_at - stage.started_at).total_seconds()
    assert 1.5 <= took < 3.0, f"stage took {took:.2f}s; sequential steps would take 3s or more"


FAILING = """
stages:
  - name: Test
    steps:
      - name: breaks
        runScriptConfig:
          image: alpine
          shellScript: |
            sleep 0.5
            echo "about to fail"
            exit 3
      - name: slow
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "slow starts"
            sleep 30
            echo "slow ran to the end"
  - name: Later
    steps:
      - name: never
        runScriptConfig:
          image: alpine
          shellScript: echo "must not run"
"""


def test_failed_step_aborts_siblings_and_skips_later_stages(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(FAILING))
    ex = h.wait_final(trigger(pipeline).pk, timeout=20)

    assert ex.state == State.FAILED, h.describe(ex.pk)
    assert "breaks" in ex.reason and "exit code 3" in ex.reason, ex.reason
    steps = h.steps_of(ex.pk)
    assert steps["breaks"].state == State.FAILED
    assert steps["breaks"].exit_code == 3
    assert steps["slow"].state == State.ABORTED, h.describe(ex.pk)
    assert "breaks" in steps["slow"].reason
    slow_took = (steps["slow"].ended_at - steps["slow"].started_at).total_seconds()
    assert slow_took < 8, f"the sibling ran {slow_took:.1f}s after its stage failed"
    assert (ex.ended_at - ex.started_at).total_seconds() < 10
    assert steps["never"].state == State.SKIPPED and steps["never"].started_at is None
    assert StageRun.objects.get(execution_id=ex.pk, name="Later").state == State.SKIPPED
    assert StageRun.objects.get(execution_id=ex.pk, name="Test").state == State.FAILED

    assert "about to fail" in h.stored_log(steps["breaks"])
    slow_log = h.stored_log(steps["slow"])
    assert "slow starts" in slow_log and "slow ran to the end" not in slow_log
    assert h.group_gone(steps["slow"].pid)
