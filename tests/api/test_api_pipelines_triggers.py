"""``/api/v1/pipelines/``: schedules and image triggers (validated per entry, replaced as a whole)
and the remote webhook on delete and secret rotation."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask
from pipelines_world import (
    PIPELINE,
    errors,
    new_body,
    post,
)

from devops.models import (
    ImageTrigger,
    Pipeline,
    PipelineSchedule,
    SourceCodeCredential,
)


# --- schedules and image triggers ---------------------------------------------------------------------
@pytest.mark.django_db
def test_an_invalid_cron_names_its_entry(world):
    body = new_body(
        world.pipeline.project_id, schedules=[{"cron": "0 3 * * *"}, {"cron": "61 * * * *"}, {"cron": "* * *"}]
    )
    found = errors(post(world.clients["owner"], "/api/v1/pipelines/", body))
    assert set(found) == {"schedules.1.cron", "schedules.2.cron"}
    assert "invalid minute field '61'" in found["schedules.1.cron"][0]
    assert "has 3 fields; expected 5" in found["schedules.2.cron"][0]
    assert not Pipeline.objects.filter(name="built").exists()
    assert not PeriodicTask.objects.filter(name__startswith="pipeline-schedule-").exists()


@pytest.mark.django_db
def test_an_unknown_timezone_names_its_entry_and_nothing_changes(world):
    pipeline = world.pipeline
    body = {"schedules": [{"cron": "0 1 * * *"}]}
    assert post(world.clients["owner"], f"/api/v1/pipelines/{pipeline.pk}/", body, "patch").status_code == 200
    body = {"trigger_tag": False, "schedules": [{"cron": "5 1 * * *"}, {"cron": "0 2 * * *", "timezone": "Mars/Base"}]}
    found = errors(post(world.clients["owner"], f"/api/v1/pipelines/{pipeline.pk}/", body, "patch"))
    assert "unknown timezone 'Mars/Base'" in found["schedules.1.timezone"][0]
    pipeline.refresh_from_db()
    assert pipeline.trigger_tag is True
    assert list(pipeline.schedules.values_list("cron", flat=True)) == ["0 1 * * *"]
    assert PeriodicTask.objects.get(pk=pipeline.schedules.get().periodic_task_id).crontab.minute == "0"


@pytest.mark.django_db
def test_schedules_and_image_triggers_are_replaced_as_a_whole(world):
    pipeline, client = world.pipeline, world.clients["owner"]
    path = f"/api/v1/pipelines/{pipeline.pk}/"
    body = {
        "schedules": [{"cron": "0 1 * * *"}, {"cron": "0 2 * * *", "enabled": False, "branch": "dev"}],
        "image_triggers": [{"image": "a/*"}, {"image": "b", "tag": "1.*", "branch": "rel", "enabled": False}],
    }
    data = post(client, path, body, "patch").json()
    assert [s["cron"] for s in data["schedules"]] == ["0 1 * * *", "0 2 * * *"]
    assert [(t["image"], t["tag"]) for t in data["image_triggers"]] == [("a/*", "*"), ("b", "1.*")]
    tasks = {s.periodic_task_id: s.enabled for s in pipeline.schedules.all()}
    assert {PeriodicTask.objects.get(pk=pk).enabled for pk in tasks} == {True, False}
    # A PATCH without the lists leaves them alone.
    assert len(post(client, path, {"poll": True}, "patch").json()["schedules"]) == 2
    data = post(client, path, {"schedules": [{"cron": "30 4 * * 0"}], "image_triggers": []}, "patch").json()
    assert [s["cron"] for s in data["schedules"]] == ["30 4 * * 0"]
    assert data["image_triggers"] == []
    assert PipelineSchedule.objects.filter(pipeline=pipeline).count() == 1
    assert ImageTrigger.objects.filter(pipeline=pipeline).count() == 0
    names = set(PeriodicTask.objects.filter(name__startswith="pipeline-schedule-").values_list("name", flat=True))
    assert names == {f"pipeline-schedule-{pipeline.schedules.get().pk}"}
    # Deleting the pipeline takes its beat tasks with it.
    assert client.delete(path).status_code == 204
    assert not PeriodicTask.objects.filter(name__startswith="pipeline-schedule-").exists()


@pytest.mark.django_db
def test_list_entries_are_validated(world):
    client, path = world.clients["owner"], f"/api/v1/pipelines/{world.pipeline.pk}/"
    found = errors(post(client, path, {"image_triggers": [{"image": "a b"}, {"tag": "x"}]}, "patch"))
    assert set(found) == {"image_triggers.0.image", "image_triggers.1.image"}
    found = errors(post(client, path, {"schedules": [{"cron": "0 1 * * *", "branch": "-x"}]}, "patch"))
    assert "invalid branch name" in found["schedules.0.branch"][0]
    found = errors(post(client, path, {"schedules": [{"cron": "* * * * *"}] * 51}, "patch"))
    assert "no more than 50" in found["schedules.non_field_errors"][0]
    # A PATCH replaces a list whole: its entries are complete, the partial update is the pipeline's.
    found = errors(post(client, path, {"schedules": [{"branch": "main"}]}, "patch"))
    assert found == {"schedules.0.cron": ["This field is required."]}


# --- the remote webhook ----------------------------------------------------------------------------------
@pytest.fixture
def github():
    from devops.testing.fake_scm import FakeScm

    fake = FakeScm("github").start()
    yield fake
    fake.stop()


@pytest.mark.django_db
def test_delete_and_rotate_handle_the_remote_webhook(world, github, make_repo):
    from devops.scm.registration import sync_webhook

    alice = github.add_user("alice")
    github.add_repo("alice/app", make_repo(PIPELINE).path, admins={"alice"})
    credential = SourceCodeCredential.objects.create(
        user=world.users["owner"], provider="github", host=github.url, login="alice", access_token=alice.token
    )
    body = new_body(
        world.pipeline.project_id,
        provider="github",
        credential=credential.pk,
        repository_url=f"{github.url}/alice/app.git",
    )
    response = post(world.clients["owner"], "/api/v1/pipelines/", body)
    assert response.status_code == 201, response.content
    pipeline_id = response.json()["id"]
    hooks = github.repos["alice/app"].hooks
    assert sync_webhook(pipeline_id) == "created"  # what the post_save task does after the commit
    first = next(iter(hooks.values()))
    old_secret = Pipeline.objects.get(pk=pipeline_id).webhook_secret
    assert first["config"]["secret"] == old_secret

    secret = post(world.clients["owner"], f"/api/v1/pipelines/{pipeline_id}/rotate-secret/").json()["webhook_secret"]
    assert not hooks  # the hook signing with the old secret is gone ...
    assert Pipeline.objects.get(pk=pipeline_id).remote_webhook_id == ""
    assert sync_webhook(pipeline_id) == "created"  # ... and the sync registers one with the new secret
    assert [h["config"]["secret"] for h in hooks.values()] == [secret]

    assert world.clients["owner"].delete(f"/api/v1/pipelines/{pipeline_id}/").status_code == 204
    assert not hooks
    assert not Pipeline.objects.filter(pk=pipeline_id).exists()
    assert alice.token not in response.content.decode()

