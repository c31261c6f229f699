"""Cron schedules: the django-celery-beat rows kept in step with each PipelineSchedule, validation that
names the bad field, one delivery per schedule and minute, and (with the real worker) a firing that
builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from devops.models import PipelineSchedule, WebhookDelivery
from devops.schedules import delete_schedule, fire, save_schedule, task_name

CRON_PIPELINE = """
stages:
  - name: Nightly
    steps:
      - name: nightly
        runScriptConfig:
          image: alpine
          shellScript: echo "nightly on $CICD_GIT_BRANCH"
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(make_repo, make_pipeline):
    return make_pipeline(make_repo(CRON_PIPELINE))


def test_save_creates_a_beat_task_with_matching_crontab(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="30  2 * * 1-5", timezone="Europe/Berlin"))
    assert schedule.pk and schedule.cron == "30 2 * * 1-5"
    task = PeriodicTask.objects.get(name=task_name(schedule.pk))
    assert schedule.periodic_task_id == task.pk
    assert (task.task, task.queue, task.enabled) == ("devops.tasks.fire_schedule", "hooks", True)
    assert json.loads(task.args) == [schedule.pk]
    tab = task.crontab
    assert (tab.minute, tab.hour, tab.day_of_month, tab.month_of_year, tab.day_of_week) == ("30", "2", "*", "*", "1-5")
    assert str(tab.timezone) == "Europe/Berlin"
    # Beat's own view of it: the crontab fires at 02:30 Berlin time on weekdays.
    assert tab.schedule.minute == {30} and tab.schedule.hour == {2}
    assert tab.schedule.day_of_week == {1, 2, 3, 4, 5}


def test_update_changes_the_same_task_and_drops_the_unused_crontab(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 3 * * *"))
    first_task, first_tab = schedule.periodic_task_id, schedule.periodic_task.crontab_id
    schedule.cron = "*/15 * * * *"
    save_schedule(schedule)
    task = PeriodicTask.objects.get(name=task_name(schedule.pk))
    assert task.pk == first_task
    assert task.crontab.minute == "*/15"
    assert not CrontabSchedule.objects.filter(pk=first_tab).exists()
    assert PeriodicTask.objects.filter(task="devops.tasks.fire_schedule").count() == 1


def test_two_schedules_with_one_cron_share_a_crontab_and_keep_it_while_used(pipeline):
    one = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 4 * * *"))
    two = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 4 * * *", branch="release"))
    tab = one.periodic_task.crontab_id
    assert two.periodic_task.crontab_id == tab
    delete_schedule(one)
    assert CrontabSchedule.objects.filter(pk=tab).exists()
    delete_schedule(two)
    assert not CrontabSchedule.objects.filter(pk=tab).exists()


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * *", "has 4 fields; expected 5"),
        ("0 0 * * * *", "has 6 fields; expected 5"),
        ("61 * * * *", "invalid minute field '61'"),
        ("0 24 * * *", "invalid hour field '24'"),
        ("0 0 0 * *", "invalid day-of-month field '0'"),
        ("0 0 * 13 *", "invalid month field '13'"),
        ("0 0 * * 8", "invalid day-of-week field '8'"),
        ("0 0 * * 7", "invalid day-of-week field '7'"),  # celery's range is 0-6, whatever cron says
        ("*/0 * * * *", "invalid minute field '*/0'"),
        ("x * * * *", "invalid minute field 'x'"),
    ],
)
def test_invalid_cron_is_a_value_error_naming_the_field(pipeline, cron, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        save_schedule(PipelineSchedule(pipeline=pipeline, cron=cron))
    assert not PipelineSchedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="devops.tasks.fire_schedule").exists()


def test_unknown_timezone_is_a_value_error(pipeline):
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 0 * * *", timezone="Mars/Olympus"))


def test_names_are_accepted(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 9 1 jan mon-fri"))
    tab = schedule.periodic_task.crontab
    assert (tab.month_of_year, tab.day_of_week) == ("jan", "mon-fri")
    assert tab.schedule.month_of_year == {1}


def test_disabling_disables_the_task(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 0 * * *"))
    schedule.enabled = False
    save_schedule(schedule)
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).enabled is False
    assert fire(schedule.pk) is None  # a firing already queued when it was disabled builds nothing
    schedule.enabled = True
    save_schedule(schedule)
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).enabled is True


def test_delete_removes_the_task(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 0 * * *"))
    pk = schedule.pk
    delete_schedule(schedule)
    assert not PipelineSchedule.objects.filter(pk=pk).exists()
    assert not PeriodicTask.objects.filter(name=task_name(pk)).exists()
    assert fire(pk) is None  # a firing of a deleted schedule is a no-op


def test_deleting_the_pipeline_removes_its_tasks(pipeline, make_repo, make_pipeline):
    keep = make_pipeline(make_repo(CRON_PIPELINE))
    mine = [save_schedule(PipelineSchedule(pipeline=pipeline, cron=f"{m} * * * *")).pk for m in (1, 2)]
    theirs = save_schedule(PipelineSchedule(pipeline=keep, cron="3 * * * *"))
    pipeline.delete()
    assert not PeriodicTask.objects.filter(name__in=[task_name(pk) for pk in mine]).exists()
    assert PeriodicTask.objects.filter(name=task_name(theirs.pk)).exists()


def test_a_task_deleted_by_hand_is_recreated_on_save(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 0 * * *"))
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).delete()
    schedule.refresh_from_db()
    assert schedule.periodic_task_id is None
    save_schedule(schedule)
    assert PeriodicTask.objects.get(name=task_name(schedule.pk)).pk == schedule.periodic_task_id


def test_firing_twice_in_one_minute_records_one_delivery(pipeline):
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="* * * * *", branch="main"))
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = fire(schedule.pk, now=at)
    assert first is not None
    assert (first.source, first.event, first.delivery_id) == ("cron", "cron", f"{schedule.pk}:2024-01-02T03:04+00:00")
    assert first.payload == {"kind": "cron", "branch": "main", "schedule": schedule.pk}
    assert fire(schedule.pk, now=at + timedelta(seconds=50)) is None
    assert fire(schedule.pk, now=at + timedelta(minutes=1)) is not None
    assert WebhookDelivery.objects.filter(pipeline=pipeline).count() == 2


# --- end to end: a firing through the real worker builds --------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_cron_firing_builds_an_execution(worker, pipeline, h):
    import json

    from config.celery import app
    from devops import tasks
    from devops.models import PipelineExecution
    from devops.states import State

    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="*/5 * * * *"))
    # Send the beat entry exactly as celery beat sends a due entry: its task, args and queue.
    entry = schedule.periodic_task
    assert entry.task == tasks.fire_schedule.name
    app.send_task(entry.task, args=json.loads(entry.args), queue=entry.queue)
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.filter(pipeline=pipeline).exclude(outcome="queued").first(),
        30, "the schedule never fired",
    )  # fmt: skip
    assert (delivery.source, delivery.outcome) == ("cron", "created"), delivery.reason
    execution = PipelineExecution.objects.get(pk=delivery.execution_id)
    assert (execution.trigger_type, execution.event, execution.branch) == ("cron", "cron", "main")
    final = h.wait_final(execution.pk, timeout=30)
    assert final.state == State.SUCCESS, h.describe(execution.pk)
    assert "nightly on main" in h.stored_log(h.steps_of(execution.pk)["nightly"])
