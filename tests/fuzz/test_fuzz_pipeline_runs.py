"""Generated, accepted pipeline files run through the real engine (issue 7, fuzzing).

Each example is a real execution: the file is committed to a git repository, triggered as a manual
run of ``main`` and run by the real Celery worker on the local executor. Its scripts are harmless
and quick (echo, true, false, exit N, sleep 0.1), some fail, some outlive a 0.6 s step timeout, some
steps are deploy steps or read a secret the project lacks (both refused by the local executor).

Property: every accepted file ends in a final state, every stage and step row with it; the outcome is
the one predicted from the file (which steps a manual run of main skips, which exit with what); and
every outcome that is not Success says why, on the execution and on each step.

Few examples (each costs seconds), no shrinking (a shrink would rerun executions for minutes); the
derandomized profile makes them the same examples on every run.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings
from pipeline_files import ExpectedStep, PipelineFile, pipeline_files

from devops.models import StageRun, StepRun
from devops.pipeline_config import parse_pipeline
from devops.states import FINAL_STATES, State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
FUZZ = settings.get_profile("devops-fuzz")
CLONE = ExpectedStep("sourceCode", None, {}, None, True, None, False, False)


def bad(step: ExpectedStep) -> bool:
    """The step, if it runs, ends the stage unsuccessfully."""
    return step.setup_fails or step.sleeps or step.exit_code not in (None, 0)


@settings(FUZZ, max_examples=10, phases=(Phase.explicit, Phase.generate))
@given(generated=pipeline_files(runnable=True, max_stages=3))
def test_every_accepted_file_runs_to_a_final_state_or_fails_with_a_reason(
    generated: PipelineFile, worker, make_repo, make_pipeline, trigger, h
):
    spec = parse_pipeline(generated.text)  # accepted: the parse tests hold the rest
    pipeline = make_pipeline(make_repo(generated.text))
    execution = h.wait_final(trigger(pipeline).pk, timeout=90)
    report = f"{generated.text}\n{h.describe(execution.pk)}"

    assert not StageRun.objects.filter(execution=execution).exclude(state__in=FINAL_STATES).exists(), report
    rows = {(s.stage_index, s.index): s for s in StepRun.objects.filter(execution=execution)}
    assert all(row.state in FINAL_STATES for row in rows.values()), report
    assert len(rows) == sum(len(stage.steps) for stage in spec.stages), report

    stages = [list(stage.steps) for stage in generated.stages]
    if not generated.starts_with_clone:
        stages.insert(0, [CLONE])  # the Clone stage the parser puts in front
    failing = next((i for i, steps in enumerate(stages) if any(s.runs and bad(s) for s in steps)), None)
    if failing is None:
        assert execution.state == State.SUCCESS, report
        assert execution.reason == "", report
    else:
        assert execution.state in (State.FAILED, State.ABORTED), report
        assert execution.reason.startswith("step "), report

    for si, steps in enumerate(stages):
        for sj, expected in enumerate(steps):
            row = rows[(si, sj)]
            where = f"step {si}.{sj} {row.name}: {row.state} {row.reason!r} exit={row.exit_code}\n{report}"
            if row.state != State.SUCCESS:
                assert row.reason.strip(), f"no reason for a step that did not succeed: {where}"
            if not expected.runs:
                assert row.state == State.SKIPPED and "when" in row.reason, where
            elif failing is None or si < failing:
                assert row.state == State.SUCCESS and row.exit_code == 0, where
            elif si > failing:
                assert row.state == State.SKIPPED, where
            else:
                _check_in_failing_stage(expected, row, where)


def _check_in_failing_stage(expected: ExpectedStep, row: StepRun, where: str) -> None:
    """In the stage that fails, siblings race: a step may be stopped, or never start, because another
    failed first. What it may not do is end in a way its script or setup cannot explain."""
    if row.state == State.FAILED and expected.setup_fails:
        assert row.exit_code is None and ("envFrom" in row.reason or "Kubernetes" in row.reason), where
    elif row.state == State.FAILED:
        assert row.exit_code == expected.exit_code and row.reason == f"exit code {row.exit_code}", where
    elif row.state == State.ABORTED:
        assert "stopped because" in row.reason or (expected.sleeps and "timed out" in row.reason), where
    elif row.state == State.SUCCESS:
        assert not bad(expected) and row.exit_code == 0, where
    else:
        assert row.state == State.SKIPPED, where
