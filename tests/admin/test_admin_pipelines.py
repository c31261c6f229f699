"""Pipelines: no webhook secret on the page, service-kept fields read-only, schedules through
devops.schedules (beat tasks follow), image triggers inline; deliveries read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from devops.models import ImageTrigger, Pipeline, PipelineSchedule, WebhookDelivery
from devops.schedules import task_name

pytestmark = pytest.mark.django_db


def change_url(pipeline) -> str:
    return reverse("admin:devops_pipeline_change", args=[pipeline.pk])


def test_the_form_has_no_secret_and_no_service_field(staff, world):
    form = staff.get(change_url(world.pipeline)).context["adminform"].form
    assert set(form.fields) == {
        "name", "repository_url", "provider", "credential", "default_branch",
        "trigger_push", "trigger_pull_request", "trigger_tag", "poll",
    }  # fmt: skip
    add = staff.get(reverse("admin:devops_pipeline_add")).context["adminform"].form
    assert set(add.fields) == {*form.fields, "project"}


def test_saving_keeps_the_secret_and_what_the_service_keeps(staff, world, admin_helpers):
    Pipeline.objects.filter(pk=world.pipeline.pk).update(remote_webhook_id="hook-9", next_run=41)
    before = Pipeline.objects.get(pk=world.pipeline.pk)
    data = admin_helpers.form_data(staff.get(change_url(world.pipeline)))
    data["default_branch"] = "develop"
    data.pop("trigger_tag", None)
    # Posted service fields are ignored: they are not form fields.
    data.update({"webhook_secret": "s3cr3t-FORGED", "next_run": "1", "remote_webhook_id": "", "last_run_state": "X"})
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = Pipeline.objects.get(pk=world.pipeline.pk)
    assert (after.default_branch, after.trigger_tag) == ("develop", False)
    assert after.webhook_secret == before.webhook_secret
    assert (after.next_run, after.remote_webhook_id, after.last_run_state) == (41, "hook-9", before.last_run_state)


def test_a_new_pipeline_from_the_admin(staff, world, admin_helpers, make_repo):
    add = reverse("admin:devops_pipeline_add")
    data = admin_helpers.form_data(staff.get(add))
    repo = make_repo("stages: []\n")
    data.update({"project": str(world.project.pk), "name": "second", "repository_url": str(repo), "provider": "git"})
    response = staff.post(add, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    pipeline = Pipeline.objects.get(project=world.project, name="second")
    assert pipeline.webhook_secret and pipeline.next_run == 1
    # The same name again in the project: a message, not an error page.
    response = staff.post(add, data)
    assert response.status_code == 200 and b"this project already has a pipeline named" in response.content


def test_list_filters_and_search(staff, world):
    listing = reverse("admin:devops_pipeline_changelist")
    assert staff.get(f"{listing}?q={world.pipeline.repository_url}").context["cl"].result_count == 1
    assert staff.get(f"{listing}?project__id__exact={world.project.pk}").context["cl"].result_count == 1
    assert staff.get(f"{listing}?provider__exact=github").context["cl"].result_count == 0
    Pipeline.objects.filter(pk=world.pipeline.pk).update(last_run_state="Failed")
    assert staff.get(f"{listing}?last_run_state__exact=Failed").context["cl"].result_count == 1


# --- schedules ---------------------------------------------------------------------------------------------------
def test_schedules_are_saved_and_deleted_through_the_schedules_service(staff, world, admin_helpers):
    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "pipelineschedule")
    data[f"{prefix}-0-cron"] = "30  4 * * *"
    admin_helpers.add_inline_row(
        data, prefix, {"cron": "*/15 * * * *", "branch": "release", "timezone": "Europe/Berlin", "enabled": "on"}
    )
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    first = PipelineSchedule.objects.get(pk=world.schedule.pk)
    assert first.cron == "30 4 * * *"  # normalised by save_schedule
    assert first.periodic_task.crontab.minute == "30" and first.periodic_task.crontab.hour == "4"
    added = PipelineSchedule.objects.exclude(pk=first.pk).get(pipeline=world.pipeline)
    task = PeriodicTask.objects.get(name=task_name(added.pk))
    assert added.periodic_task_id == task.pk
    assert (task.crontab.minute, str(task.crontab.timezone)) == ("*/15", "Europe/Berlin")
    assert task.enabled

    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    index = next(i for i in range(2) if data[f"{prefix}-{i}-id"] == added.pk)
    data[f"{prefix}-{index}-DELETE"] = "on"
    assert staff.post(change_url(world.pipeline), data).status_code == 302
    assert not PipelineSchedule.objects.filter(pk=added.pk).exists()
    assert not PeriodicTask.objects.filter(name=task_name(added.pk)).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cron", "0 3 * *", b"has 4 fields; expected 5"),
        ("cron", "61 * * * *", b"invalid minute field"),
        ("timezone", "Mars/Olympus", b"unknown timezone"),
    ],
)
def test_a_bad_schedule_is_a_message_on_its_field(staff, world, admin_helpers, field, value, message):
    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "pipelineschedule")
    data[f"{prefix}-0-{field}"] = value
    data["default_branch"] = "changed"
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 200 and message in response.content
    assert PipelineSchedule.objects.get(pk=world.schedule.pk).cron == "0 3 * * 1-5"
    assert Pipeline.objects.get(pk=world.pipeline.pk).default_branch != "changed"


def test_disabling_a_schedule_disables_its_beat_task(staff, world, admin_helpers):
    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "pipelineschedule")
    data.pop(f"{prefix}-0-enabled")
    assert staff.post(change_url(world.pipeline), data).status_code == 302
    assert not PeriodicTask.objects.get(pk=world.schedule.periodic_task_id).enabled


def test_image_triggers_inline(staff, world, admin_helpers):
    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "imagetrigger")
    admin_helpers.add_inline_row(data, prefix, {"image": "*/worker", "tag": "*", "branch": "", "enabled": "on"})
    data[f"{prefix}-0-DELETE"] = "on"
    assert staff.post(change_url(world.pipeline), data).status_code == 302
    assert list(ImageTrigger.objects.filter(pipeline=world.pipeline).values_list("image", flat=True)) == ["*/worker"]


def test_deleting_a_pipeline_drops_its_beat_tasks(staff, world):
    from devops import engine

    engine.abort(world.execution.pk)  # a running execution blocks the delete (abort it first)
    delete = reverse("admin:devops_pipeline_delete", args=[world.pipeline.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert not Pipeline.objects.filter(pk=world.pipeline.pk).exists()
    assert not PeriodicTask.objects.filter(name=task_name(world.schedule.pk)).exists()


def test_a_running_execution_blocks_deleting_its_pipeline(staff, world):
    delete = reverse("admin:devops_pipeline_delete", args=[world.pipeline.pk])
    page = staff.get(delete)
    assert b"pipeline execution" in page.content and b"permission" in page.content
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert Pipeline.objects.filter(pk=world.pipeline.pk).exists()


# --- deliveries -------------------------------------------------------------------------------------------------
def test_deliveries_are_read_only_with_filters_and_search(staff, world):
    listing = reverse("admin:devops_webhookdelivery_changelist")
    assert staff.get(f"{listing}?q=delivery-42").context["cl"].result_count == 1
    assert staff.get(f"{listing}?q=nothing-like-it").context["cl"].result_count == 0
    assert staff.get(f"{listing}?source__exact=github&outcome__exact=queued").context["cl"].result_count == 1
    assert staff.get(f"{listing}?source__exact=harbor").context["cl"].result_count == 0
    assert staff.get(reverse("admin:devops_webhookdelivery_add")).status_code == 403
    change = reverse("admin:devops_webhookdelivery_change", args=[world.delivery.pk])
    assert staff.post(change, {"outcome": "created"}).status_code == 403
    assert WebhookDelivery.objects.get(pk=world.delivery.pk).outcome == "queued"


def test_a_pipeline_stays_in_its_project(staff, world, admin_helpers):
    data = admin_helpers.form_data(staff.get(change_url(world.pipeline)))
    assert "project" not in data
    data["project"] = str(world.other_project.pk)
    assert staff.post(change_url(world.pipeline), data).status_code == 302
    assert Pipeline.objects.get(pk=world.pipeline.pk).project_id == world.project.pk


def test_a_name_taken_in_the_project_is_a_message(staff, world, admin_helpers, make_repo):
    Pipeline.objects.create(project=world.project, name="taken", repository_url=str(make_repo("stages: []\n")))
    data = admin_helpers.form_data(staff.get(change_url(world.pipeline)))
    data["name"] = "taken"
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 200 and b"already has a pipeline named" in response.content
    assert Pipeline.objects.get(pk=world.pipeline.pk).name == "app"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"repository_url": "https://bob:s3cr3t-URL-token@git.example.com/o/r.git"}, b"contains a password or token"),
        ({"repository_url": "ext::sh -c touch% /tmp/pwned"}, b"spaces or control characters"),
        ({"repository_url": "ext::ssh"}, b"is not a repository URL"),
        ({"repository_url": "gopher://host/repo"}, b"unsupported URL scheme"),
        ({"default_branch": "-upload-pack=evil"}, b"branch"),
        ({"provider": "gitlab", "credential": "<the github credential>"}, b"this credential is for github; the"),
    ],
)
def test_pipeline_fields_follow_the_api_rules(staff, world, admin_helpers, changes, message):
    if "credential" in changes:
        changes = {**changes, "credential": str(world.credential.pk)}
    before = Pipeline.objects.get(pk=world.pipeline.pk)
    data = admin_helpers.form_data(staff.get(change_url(world.pipeline)))
    data.update(changes)
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 200 and message in response.content
    assert b"s3cr3t-URL-token" not in response.content
    after = Pipeline.objects.get(pk=world.pipeline.pk)
    assert (after.repository_url, after.default_branch, after.provider) == (
        before.repository_url,
        before.default_branch,
        before.provider,
    )


def test_the_provider_must_understand_the_url(staff, world, admin_helpers):
    data = admin_helpers.form_data(staff.get(change_url(world.pipeline)))
    data.update(
        {"provider": "github", "credential": str(world.credential.pk), "repository_url": "https://github.com/octo"}
    )
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.get("repository_url")
    data["repository_url"] = "https://github.com/octo/app.git"
    assert staff.post(change_url(world.pipeline), data).status_code == 302
    assert Pipeline.objects.get(pk=world.pipeline.pk).credential_id == world.credential.pk


@pytest.mark.parametrize(
    ("inline", "row", "message"),
    [
        ("pipelineschedule", {"cron": "0 1 * * *", "branch": "a..b", "timezone": "UTC"}, b"branch"),
        ("imagetrigger", {"image": "bad image!", "tag": "*", "branch": ""}, b"an image glob has"),
        ("imagetrigger", {"image": "library/app", "tag": "v 1", "branch": ""}, b"a tag glob has"),
        ("imagetrigger", {"image": "library/app", "tag": "*", "branch": "-x"}, b"branch"),
    ],
)
def test_inline_rows_follow_the_api_rules(staff, world, admin_helpers, inline, row, message):
    page = staff.get(change_url(world.pipeline))
    data = admin_helpers.form_data(page)
    admin_helpers.add_inline_row(data, admin_helpers.inline_prefix(page, inline), {**row, "enabled": "on"})
    response = staff.post(change_url(world.pipeline), data)
    assert response.status_code == 200 and message in response.content
    assert PipelineSchedule.objects.filter(pipeline=world.pipeline).count() == 1
    assert ImageTrigger.objects.filter(pipeline=world.pipeline).count() == 1
