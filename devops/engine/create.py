"""Where a trigger becomes an execution: one transaction, a race-safe run number, admission on commit."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from devops.models import Pipeline, PipelineExecution, StageRun, StepRun
from devops.pipeline_config import PipelineSpec
from devops.states import State

from . import hooks
from .dispatch import admit_later, after_commit


@dataclass(frozen=True)
class TriggerInfo:
    """Who or what asked for the execution, and which commit it runs."""

    event: str = "manual"
    trigger_type: str = "user"
    branch: str = ""
    ref: str = ""
    tag: str = ""
    commit: str = ""
    message: str = ""
    author: str = ""
    triggered_by_id: int | None = None
    config_file: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


def _next_run(pipeline_id: int) -> int:
    # The UPDATE takes the row lock first (PostgreSQL row lock, SQLite's write lock), so the value we
    # read back is ours alone: two triggers racing get consecutive numbers, never the same one.
    Pipeline.objects.filter(pk=pipeline_id).update(next_run=F("next_run") + 1)
    return Pipeline.objects.filter(pk=pipeline_id).values_list("next_run", flat=True).get() - 1


def create_execution(
    pipeline: Pipeline, spec: PipelineSpec, trigger: TriggerInfo, *, rerun_of: int | None = None
) -> PipelineExecution:
    """Record the execution in ``Queueing`` with its config snapshot; admission runs after commit."""
    snapshot = spec.to_dict()
    with transaction.atomic():
        run = _next_run(pipeline.pk)
        execution = PipelineExecution.objects.create(
            pipeline=pipeline,
            project_id=pipeline.project_id,
            run=run,
            trigger_type=trigger.trigger_type,
            triggered_by_id=trigger.triggered_by_id,
            event=trigger.event,
            repository_url=pipeline.repository_url,
            branch=trigger.branch,
            ref=trigger.ref,
            tag=trigger.tag,
            commit=trigger.commit,
            message=trigger.message[:10000],
            author=trigger.author[:255],
            config=snapshot,
            config_file=trigger.config_file,
            extra_env=trigger.extra_env,
            rerun_of_id=rerun_of,
        )
        _create_units(execution, spec, trigger)
        admit_later(pipeline.project_id)
        after_commit(hooks.execution_created, execution.pk)
    return execution


def _create_units(execution: PipelineExecution, spec: PipelineSpec, trigger: TriggerInfo) -> None:
    """A stage or step whose ``when`` does not match this event and branch starts out ``Skipped``."""
    stages: list[StageRun] = []
    steps: list[StepRun] = []
    branch = trigger.branch or None
    for si, stage in enumerate(spec.stages):
        stage_runs = stage.when is None or stage.when.matches(branch, trigger.event)
        stage_state = State.WAITING if stage_runs else State.SKIPPED
        stages.append(StageRun(execution=execution, index=si, name=stage.name, state=stage_state))
        for sj, step in enumerate(stage.steps):
            step_runs = stage_runs and (step.when is None or step.when.matches(branch, trigger.event))
            steps.append(
                StepRun(
                    execution=execution,
                    stage_index=si,
                    index=sj,
                    name=step.name,
                    kind=step.kind,
                    state=State.WAITING if step_runs else State.SKIPPED,
                    reason="" if step_runs else "condition `when` does not match",
                )
            )
    StageRun.objects.bulk_create(stages)
    StepRun.objects.bulk_create(steps)


def rerun(execution: PipelineExecution, *, triggered_by_id: int | None = None) -> PipelineExecution:
    """Run the same config snapshot and commit again under a new run number."""
    spec = PipelineSpec.from_dict(execution.config)
    trigger = TriggerInfo(
        event=execution.event,
        trigger_type="user",
        branch=execution.branch,
        ref=execution.ref,
        tag=execution.tag,
        commit=execution.commit,
        message=execution.message,
        author=execution.author,
        triggered_by_id=triggered_by_id,
        config_file=execution.config_file,
        extra_env=dict(execution.extra_env),
    )
    return create_execution(execution.pipeline, spec, trigger, rerun_of=execution.pk)

