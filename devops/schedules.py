"""Cron triggers: a ``PipelineSchedule`` kept in step with a django-celery-beat ``PeriodicTask``.

Beat reads its schedule from the database (``DatabaseScheduler``), so a schedule is a
``CrontabSchedule`` + ``PeriodicTask`` row pair that beat picks up without a restart and that shows
in the admin. The task (``devops.tasks.fire_schedule``, hooks queue) only records a delivery; the
build happens where every other trigger's does (``devops.webhooks.process``). The delivery id is the
schedule and the firing minute, so a second beat, or a redelivered task, in that minute builds once.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat import validators
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from devops.models import DeliverySource, PipelineSchedule, WebhookDelivery
from devops.webhooks.deliveries import record_delivery

log = logging.getLogger(__name__)

TASK = "devops.tasks.fire_schedule"
QUEUE = "hooks"
_FIELDS = (
    ("minute", validators.minute_validator),
    ("hour", validators.hour_validator),
    ("day-of-month", validators.day_of_month_validator),
    ("month", validators.month_of_year_validator),
    ("day-of-week", validators.day_of_week_validator),
)


def task_name(schedule_id: int) -> str:
    return f"pipeline-schedule-{schedule_id}"


def parse_cron(expression: str) -> tuple[str, str, str, str, str]:
    """The five fields (minute, hour, day-of-month, month, day-of-week), each checked by the same
    validators the beat admin uses and then by celery's own parser (which beat runs); ValueError
    names the field at fault."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5:"
            " minute hour day-of-month month day-of-week (e.g. '0 3 * * 1-5')"
        )
    for (name, validate), value in zip(_FIELDS, fields, strict=True):
        try:
            validate(value)
        except ValidationError as exc:
            raise ValueError(
                f"invalid {name} field {value!r} in cron {expression!r}: {'; '.join(exc.messages)}"
            ) from None
    minute, hour, day_of_month, month, day_of_week = fields
    checks = (
        ("minute", {"minute": minute}),
        ("hour", {"hour": hour}),
        ("day-of-month", {"day_of_month": day_of_month}),
        ("month", {"month_of_year": month}),
        ("day-of-week", {"day_of_week": day_of_week}),
    )
    for name, kwargs in checks:
        try:
            crontab(**kwargs)
        except ValueError as exc:
            raise ValueError(
                f"invalid {name} field {next(iter(kwargs.values()))!r} in cron {expression!r}: {exc}"
            ) from None
    return minute, hour, day_of_month, month, day_of_week


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}: expected an IANA name such as UTC or Europe/Berlin") from None


def save_schedule(schedule: PipelineSchedule) -> PipelineSchedule:
    """Validate, save the schedule and create or update its beat task in the same transaction."""
    minute, hour, day_of_month, month, day_of_week = parse_cron(schedule.cron)
    zone = _zone(schedule.timezone)
    schedule.cron = " ".join((minute, hour, day_of_month, month, day_of_week))
    schedule.timezone = zone.key
    with transaction.atomic():
        schedule.save()
        tab = CrontabSchedule.objects.filter(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month,
            day_of_week=day_of_week, timezone=zone.key,
        ).first() or CrontabSchedule.objects.create(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month,
            day_of_week=day_of_week, timezone=zone.key,
        )  # fmt: skip
        task = (
            PeriodicTask.objects.filter(pk=schedule.periodic_task_id).first() if schedule.periodic_task_id else None
        ) or PeriodicTask.objects.filter(name=task_name(schedule.pk)).first()
        task = task or PeriodicTask(name=task_name(schedule.pk))
        old_tab = task.crontab_id
        task.task = TASK
        task.args = json.dumps([schedule.pk])
        task.kwargs = "{}"
        task.queue = QUEUE
        task.crontab = tab
        task.interval = task.solar = task.clocked = None
        task.one_off = False
        task.enabled = schedule.enabled
        branch = schedule.branch or "(default)"
        task.description = f"cron {schedule.cron} ({zone.key}) of pipeline {schedule.pipeline_id}, branch {branch}"
        task.save()
        if schedule.periodic_task_id != task.pk:
            schedule.periodic_task = task
            schedule.save(update_fields=["periodic_task"])
        if old_tab and old_tab != tab.pk:
            _drop_unused_crontab(old_tab)
    return schedule


def delete_schedule(schedule: PipelineSchedule) -> None:
    """Delete the schedule; its beat task goes with it (the post_delete receiver below)."""
    schedule.delete()


@receiver(post_delete, sender=PipelineSchedule, dispatch_uid="devops.schedules.drop_periodic_task")
def _drop_periodic_task(sender: type, instance: PipelineSchedule, **kwargs: object) -> None:
    """Runs for each schedule, also when a pipeline (or project) delete cascades to it."""
    tasks = PeriodicTask.objects.filter(name=task_name(instance.pk))
    if instance.periodic_task_id:
        tasks = tasks | PeriodicTask.objects.filter(pk=instance.periodic_task_id)
    tabs = {tab for tab in tasks.values_list("crontab_id", flat=True) if tab}
    for task in tasks:
        task.delete()  # one by one: PeriodicTask's pre_delete signal tells beat the schedule changed
    for tab in tabs:
        _drop_unused_crontab(tab)


def _drop_unused_crontab(tab_id: int) -> None:
    CrontabSchedule.objects.filter(pk=tab_id, periodictask__isnull=True).delete()


def fire(schedule_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Record the cron delivery for this minute; None if the schedule is gone, disabled, or already
    fired this minute (a duplicate beat or a redelivered task)."""
    schedule = PipelineSchedule.objects.filter(pk=schedule_id).first()
    if schedule is None:
        log.info("schedule %s fired but no longer exists", schedule_id)
        return None
    if not schedule.enabled:
        log.info("schedule %s fired while disabled; nothing recorded", schedule_id)
        return None
    minute = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    with transaction.atomic():
        return record_delivery(
            schedule.pipeline_id,
            source=DeliverySource.CRON,
            delivery_id=f"{schedule.pk}:{minute.isoformat(timespec='minutes')}",
            event="cron",
            payload={"kind": "cron", "branch": schedule.branch, "schedule": schedule.pk},
        )
