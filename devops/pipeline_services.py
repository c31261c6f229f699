"""Writes on pipelines as a whole: create, update, delete, their schedules and image triggers, the
webhook secret, and a manual run (optionally with a temporary config).

The API (and any other edge that edits a pipeline as one object) calls these so the side effects stay
in one place: saving a pipeline enqueues the remote webhook's sync (``devops.scm.registration``,
post_save, on commit); deleting removes the remote webhook first; schedules go through
``devops.schedules`` so their beat tasks follow; a rotated secret re-registers the remote webhook.
Errors the caller should show are Django ``ValidationError``s keyed by the field path
(``schedules.2.cron``), or the trigger's own exceptions for a run.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devops.models import ImageTrigger, Pipeline, PipelineExecution, PipelineSchedule, Project
from devops.schedules import delete_schedule, parse_cron, save_schedule
from devops.scm.registration import remove_webhook
from devops.triggers import TriggerError, trigger_pipeline

# The name a temporary config's errors and the execution's ``config_file`` carry: it was never a file.
TEMPORARY_CONFIG_NAME = "(temporary)"

# The pipeline's own columns a caller may set; the rest are the service's (SYSTEM_FIELDS) or secret.
EDITABLE_FIELDS = (
    "name",
    "repository_url",
    "provider",
    "credential_id",
    "default_branch",
    "trigger_push",
    "trigger_pull_request",
    "trigger_tag",
    "poll",
)


@dataclass(frozen=True)
class ScheduleInput:
    cron: str
    branch: str = ""
    timezone: str = "UTC"
    enabled: bool = True


@dataclass(frozen=True)
class ImageTriggerInput:
    image: str
    tag: str = "*"
    branch: str = ""
    enabled: bool = True


def _apply(pipeline: Pipeline, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for key, value in fields.items():
        setattr(pipeline, key, value)


def _name_taken(pipeline: Pipeline) -> ValidationError:
    return ValidationError({"name": [f"this project already has a pipeline named {pipeline.name!r}"]})


def _save(pipeline: Pipeline) -> None:
    """Save, turning the (project, name) uniqueness into a 400 even when two requests race."""
    clash = Pipeline.objects.filter(project_id=pipeline.project_id, name=pipeline.name).exclude(pk=pipeline.pk)
    if clash.exists():
        raise _name_taken(pipeline)
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as exc:
        if "uniq_project_pipeline" in str(exc):
            raise _name_taken(pipeline) from None
        raise


def create_pipeline(
    project: Project,
    fields: Mapping[str, Any],
    *,
    schedules: Sequence[ScheduleInput] | None = None,
    image_triggers: Sequence[ImageTriggerInput] | None = None,
) -> Pipeline:
    """Create the pipeline with its schedules and image triggers in one transaction: a bad schedule
    leaves nothing behind (and no webhook registration is enqueued, as that waits for the commit)."""
    pipeline = Pipeline(project=project)
    _apply(pipeline, fields)
    with transaction.atomic():
        _save(pipeline)
        if schedules:
            set_schedules(pipeline, schedules)
        if image_triggers:
            set_image_triggers(pipeline, image_triggers)
    return pipeline


def update_pipeline(
    pipeline: Pipeline,
    fields: Mapping[str, Any],
    *,
    schedules: Sequence[ScheduleInput] | None = None,
    image_triggers: Sequence[ImageTriggerInput] | None = None,
) -> Pipeline:
    """Change the given fields; ``schedules`` / ``image_triggers``, when given (even empty), replace
    the pipeline's lists as a whole. The model's save leaves the service-kept fields alone."""
    _apply(pipeline, fields)
    with transaction.atomic():
        _save(pipeline)
        if schedules is not None:
            set_schedules(pipeline, schedules)
        if image_triggers is not None:
            set_image_triggers(pipeline, image_triggers)
    return pipeline


def delete_pipeline(pipeline: Pipeline) -> None:
    """Delete the pipeline; the pre_delete receiver removes its remote webhook.

    The row is locked and re-read first: a webhook sync running right now (just after a create) holds
    the lock while it registers the hook, and only after it commits is the hook's id in the row. A
    stale instance would delete the pipeline and leave that hook behind on the provider.
    """
    with transaction.atomic():
        fresh = Pipeline.objects.select_for_update(of=("self",)).select_related("credential")
        current = fresh.filter(pk=pipeline.pk).first()
        if current is not None:
            current.delete()


def set_schedules(pipeline: Pipeline, schedules: Sequence[ScheduleInput]) -> list[PipelineSchedule]:
    """Replace the pipeline's schedules with ``schedules`` (in order).

    Existing rows are reused by position, so an unchanged list keeps its beat tasks; extra rows are
    deleted (their beat tasks with them). Every invalid entry is reported, keyed ``schedules.N.cron``
    or ``schedules.N.timezone``, and nothing is changed then.
    """
    existing = list(PipelineSchedule.objects.filter(pipeline=pipeline).order_by("id"))
    errors: dict[str, list[str]] = {}
    saved: list[PipelineSchedule] = []
    with transaction.atomic():
        for index, item in enumerate(schedules):
            row = existing[index] if index < len(existing) else PipelineSchedule(pipeline=pipeline)
            row.cron, row.branch, row.timezone, row.enabled = item.cron, item.branch, item.timezone, item.enabled
            try:
                saved.append(save_schedule(row))
            except ValueError as exc:
                errors[f"schedules.{index}.{_schedule_field(item)}"] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        for row in existing[len(schedules) :]:
            delete_schedule(row)
    return saved


def _schedule_field(item: ScheduleInput) -> str:
    """Which field save_schedule refused: the cron (checked first) or else the timezone."""
    try:
        parse_cron(item.cron)
    except ValueError:
        return "cron"
    return "timezone"


def set_image_triggers(pipeline: Pipeline, triggers: Sequence[ImageTriggerInput]) -> list[ImageTrigger]:
    """Replace the pipeline's image triggers with ``triggers`` (rows reused by position)."""
    existing = list(ImageTrigger.objects.filter(pipeline=pipeline).order_by("id"))
    saved: list[ImageTrigger] = []
    with transaction.atomic():
        for index, item in enumerate(triggers):
            row = existing[index] if index < len(existing) else ImageTrigger(pipeline=pipeline)
            row.image, row.tag, row.branch, row.enabled = item.image, item.tag or "*", item.branch, item.enabled
            row.save()
            saved.append(row)
        extra = [row.pk for row in existing[len(triggers) :]]
        if extra:
            ImageTrigger.objects.filter(pk__in=extra).delete()
    return saved


def rotate_webhook_secret(pipeline: Pipeline) -> str:
    """A new webhook secret, returned once (it is never shown again).

    A webhook registered on the provider still signs with the old secret, and providers have no
    common "change the secret" call: it is removed here and the save's post_save sync registers a new
    one with the new secret after the commit. Until then deliveries signed with the old secret fail
    verification, which is the point of rotating.
    """
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = Pipeline.objects.select_for_update(of=("self",)).select_related("credential")
        current = locked.get(pk=pipeline.pk)
        if current.remote_webhook_id:
            remove_webhook(current)  # best effort: logs and goes on if the provider is down
            Pipeline.objects.filter(pk=current.pk).update(remote_webhook_id="")
            current.remote_webhook_id = ""
        current.webhook_secret = secret
        current.save(update_fields=["webhook_secret"])
    pipeline.webhook_secret = secret
    return secret


def run_pipeline(
    pipeline: Pipeline,
    *,
    user_id: int | None,
    branch: str | None = None,
    tag: str | None = None,
    commit: str | None = None,
    config_text: str | None = None,
) -> PipelineExecution:
    """Start a manual execution; ``config_text`` runs that pipeline file body once instead of the
    repository's (the temporary config: nothing is committed, the execution keeps it as its snapshot).

    Raises TriggerError (and its NoPipelineFile / BranchFiltered) or PipelineConfigError with the
    reason, and ProviderError when the credential's token cannot be refreshed. Git runs in the
    caller's thread; a repository that does not answer in time is a TriggerError, not a crash.
    """
    try:
        return trigger_pipeline(
            pipeline,
            branch=branch or None,
            tag=tag or None,
            commit=commit or None,
            event="manual",
            config_text=config_text,
            config_name=TEMPORARY_CONFIG_NAME if config_text is not None else "",
            trigger_type="user",
            triggered_by_id=user_id,
        )
    except subprocess.TimeoutExpired:
        raise TriggerError("git did not answer in time reading the repository") from None
