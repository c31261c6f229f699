"""Image pushes from Harbor, Docker Hub and Alibaba Cloud ACR: the project's token URL, matching image
triggers, one delivery per pipeline and push, and (with the real worker) the execution it starts.

The bodies are tests/triggers/fixtures/<registry>/*.json, shaped like each registry's documented
notification. Without the worker, deliveries are recorded but never processed: the test transaction
never commits, so the on-commit processing task is never sent.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from devops.models import ImageTrigger, Project, WebhookDelivery
from devops.webhooks.images import image_hook_url, receive_image_push, rotate_image_hook_token

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HARBOR_IMAGE = "harbor.example.com/library/webapp:v1.4.0"
DOCKERHUB_IMAGE = "acme/webapp:latest"
ACR_IMAGE = "registry.cn-hangzhou.aliyuncs.com/acme/webapp:release-v2"
IMAGE_PIPELINE = """
stages:
  - name: Deploy
    steps:
      - name: show
        runScriptConfig:
          image: alpine
          shellScript: echo "img=$CICD_IMAGE"
"""


def fixture(registry: str, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    headers = json.loads((FIXTURES / registry / "headers.json").read_text())
    return headers, json.loads((FIXTURES / registry / f"{name}.json").read_text())


def post(token: str, headers: dict[str, str], body: dict[str, Any] | bytes):
    """Through the URL the registry is given (/hooks/images/<token>/), as the registry would post."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(f"/hooks/images/{token}/", data=raw, content_type="application/json", **meta)


@pytest.fixture
def hooked(make_repo, make_pipeline):
    """A project with two pipelines: ``app`` wants library/webapp v*, ``other`` wants library/other."""
    app = make_pipeline(make_repo(IMAGE_PIPELINE), name="app")
    other = make_pipeline(make_repo(IMAGE_PIPELINE), name="other", project=app.project.name)
    ImageTrigger.objects.create(pipeline=app, image="library/webapp", tag="v*")
    ImageTrigger.objects.create(pipeline=other, image="library/other", tag="*")
    token = rotate_image_hook_token(app.project)
    return app, other, token


pytestmark = pytest.mark.django_db


# --- Harbor ---------------------------------------------------------------------------------------
def test_harbor_push_records_one_delivery_for_the_matching_pipeline(hooked):
    app, other, token = hooked
    headers, body = fixture("harbor", "push_artifact")
    response = post(token, headers, body)
    assert response.status_code == 202, response.json()
    answer = response.json()
    assert (answer["matched"], answer["pipelines"], answer["duplicates"]) == (1, [app.pk], 0)
    assert answer["source"] == "harbor" and answer["images"] == [HARBOR_IMAGE]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.pipeline_id, delivery.source, delivery.event, delivery.outcome) == (
        app.pk, "harbor", "image", "queued",
    )  # fmt: skip
    assert delivery.payload["kind"] == "image"
    assert delivery.payload["image"] == HARBOR_IMAGE
    assert delivery.payload["branch"] == ""
    assert not WebhookDelivery.objects.filter(pipeline=other).exists()


def test_harbor_replay_records_nothing_new(hooked):
    app, _, token = hooked
    headers, body = fixture("harbor", "push_artifact")
    assert post(token, headers, body).json()["matched"] == 1
    replay = post(token, headers, body)
    assert replay.status_code == 202
    assert (replay.json()["matched"], replay.json()["duplicates"]) == (0, 1)
    assert WebhookDelivery.objects.count() == 1
    # The same tag pushed again with new content is a new push.
    body["event_data"]["resources"][0]["digest"] = "sha256:" + "e" * 64
    assert post(token, headers, body).json()["pipelines"] == [app.pk]
    assert WebhookDelivery.objects.count() == 2


def test_non_matching_tag_or_image_records_nothing(hooked):
    _, _, token = hooked
    headers, body = fixture("harbor", "push_artifact")
    wrong_tag = copy.deepcopy(body)
    resource = wrong_tag["event_data"]["resources"][0]
    resource.update(tag="latest", resource_url="harbor.example.com/library/webapp:latest")
    response = post(token, headers, wrong_tag)
    assert response.status_code == 202
    assert response.json()["matched"] == 0
    assert "no enabled image trigger" in response.json()["reason"]
    assert "library/webapp:latest" in response.json()["reason"]

    wrong_image = copy.deepcopy(body)
    wrong_image["event_data"]["repository"].update(repo_full_name="library/webapp-base", name="webapp-base")
    wrong_image["event_data"]["resources"][0]["resource_url"] = "harbor.example.com/library/webapp-base:v1.4.0"
    assert post(token, headers, wrong_image).json()["matched"] == 0

    # Globs are case-sensitive, as registry names are.
    upper = copy.deepcopy(body)
    upper["event_data"]["repository"]["repo_full_name"] = "Library/webapp"
    assert post(token, headers, upper).json()["matched"] == 0
    assert not WebhookDelivery.objects.exists()


def test_trigger_may_name_the_registry_host_and_choose_the_branch(hooked):
    app, _, token = hooked
    ImageTrigger.objects.filter(pipeline=app).update(image="harbor.example.com/library/*", branch="release")
    headers, body = fixture("harbor", "push_artifact")
    assert post(token, headers, body).json()["pipelines"] == [app.pk]
    assert WebhookDelivery.objects.get().payload["branch"] == "release"
    ImageTrigger.objects.filter(pipeline=app).update(image="other.example.com/library/*")
    body["event_data"]["resources"][0]["digest"] = "sha256:" + "a" * 64
    assert post(token, headers, body).json()["matched"] == 0


def test_one_delivery_per_pipeline_even_when_two_of_its_triggers_match(hooked):
    app, _, token = hooked
    ImageTrigger.objects.create(pipeline=app, image="*/webapp", tag="*", branch="second")
    headers, body = fixture("harbor", "push_artifact")
    answer = post(token, headers, body).json()
    assert (answer["matched"], answer["duplicates"]) == (1, 0)
    assert WebhookDelivery.objects.get().payload["branch"] == ""  # the first trigger decides


def test_disabled_trigger_and_other_projects_triggers_are_ignored(hooked, make_repo, make_pipeline):
    app, _, token = hooked
    stranger = make_pipeline(make_repo(IMAGE_PIPELINE))  # its own project, same image wanted
    ImageTrigger.objects.create(pipeline=stranger, image="library/webapp", tag="*")
    ImageTrigger.objects.filter(pipeline=app).update(enabled=False)
    headers, body = fixture("harbor", "push_artifact")
    assert post(token, headers, body).json()["matched"] == 0
    assert not WebhookDelivery.objects.exists()


def test_harbor_events_other_than_push_are_acknowledged_and_ignored(hooked):
    _, _, token = hooked
    headers, body = fixture("harbor", "pull_artifact")
    response = post(token, headers, body)
    assert response.status_code == 202
    assert "PULL_ARTIFACT" in response.json()["reason"]
    assert not WebhookDelivery.objects.exists()


# --- Docker Hub and ACR ---------------------------------------------------------------------------
def test_dockerhub_push_records_one_delivery(hooked):
    app, _, token = hooked
    ImageTrigger.objects.create(pipeline=app, image="docker.io/acme/*", tag="latest")
    headers, body = fixture("dockerhub", "push")
    response = post(token, headers, body)
    assert response.status_code == 202, response.json()
    assert (response.json()["source"], response.json()["pipelines"]) == ("dockerhub", [app.pk])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.source, delivery.event, delivery.payload["image"]) == ("dockerhub", "image", DOCKERHUB_IMAGE)
    # Docker Hub sends no digest: a replay is the same pushed_at, a new push a later one.
    assert post(token, headers, body).json()["duplicates"] == 1
    body["push_data"]["pushed_at"] += 60
    assert post(token, headers, body).json()["matched"] == 1
    assert WebhookDelivery.objects.count() == 2


def test_acr_push_records_one_delivery(hooked):
    app, _, token = hooked
    ImageTrigger.objects.create(pipeline=app, image="acme/webapp", tag="release-*")
    headers, body = fixture("acr", "push")
    response = post(token, headers, body)
    assert response.status_code == 202, response.json()
    assert (response.json()["source"], response.json()["pipelines"]) == ("acr", [app.pk])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.source, delivery.payload["image"]) == ("acr", ACR_IMAGE)
    assert delivery.payload["digest"] == body["push_data"]["digest"]
    assert post(token, headers, body).json()["duplicates"] == 1


# --- refusals -------------------------------------------------------------------------------------
def test_unknown_or_rotated_token_is_404(hooked):
    app, _, token = hooked
    headers, body = fixture("harbor", "push_artifact")
    assert post("not-a-token", headers, body).status_code == 404
    new_token = rotate_image_hook_token(app.project)
    response = post(token, headers, body)
    assert response.status_code == 404
    assert "unknown image hook token" in response.json()["detail"]
    assert post(new_token, headers, body).status_code == 202
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"hello": "world"}).encode(), "Harbor (type PUSH_ARTIFACT"),
        (json.dumps({"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "a/b"}}}).encode(),
         "event_data.resources"),
        (json.dumps({"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "v1"}]}}).encode(),
         "no repository object"),
        (json.dumps({"callback_url": "x", "push_data": {"tag": "a b"}, "repository": {"repo_name": "acme/webapp"}})
         .encode(), "push_data.tag must be an image tag"),
        (json.dumps({"push_data": {"tag": "v1"}, "repository": {"region": "cn-hangzhou", "repo_full_name": "../x"}})
         .encode(), "repository.repo_full_name must be a repository name"),
    ],
)  # fmt: skip
def test_malformed_payload_is_400_with_what_was_expected(hooked, body, expected):
    _, _, token = hooked
    response = post(token, {"Content-Type": "application/json"}, body)
    assert response.status_code == 400
    assert expected in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


def test_oversize_payload_is_413(hooked, settings):
    _, _, token = hooked
    settings.WEBHOOK_MAX_BYTES = 100
    headers, body = fixture("harbor", "push_artifact")
    raw = json.dumps(body).encode()
    assert post(token, headers, raw).status_code == 413
    status, answer = receive_image_push(token, {}, raw)  # the service checks too, not only the view
    assert status == 413 and "exceeds 100 bytes" in answer["detail"]
    assert not WebhookDelivery.objects.exists()


# --- the token ------------------------------------------------------------------------------------
def test_only_the_tokens_digest_is_stored(hooked, settings):
    app, _, token = hooked
    project = Project.objects.get(pk=app.project_id)
    assert project.image_hook_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(list(Project.objects.filter(pk=project.pk).values()), default=str)
    settings.PUBLIC_URL = "https://ci.example.com"
    assert image_hook_url(token) == f"https://ci.example.com/hooks/images/{token}/"


def test_imagehooktoken_command_rotates_and_prints_the_url_once(hooked, settings):
    app, _, old_token = hooked
    settings.PUBLIC_URL = "https://ci.example.com"
    out, err = io.StringIO(), io.StringIO()
    call_command("imagehooktoken", app.project.name, stdout=out, stderr=err)
    url = out.getvalue().strip()
    assert url.startswith("https://ci.example.com/hooks/images/") and url.endswith("/")
    assert "shown once" in err.getvalue()
    new_token = url.rstrip("/").rsplit("/", 1)[1]
    headers, body = fixture("harbor", "push_artifact")
    assert post(old_token, headers, body).status_code == 404
    assert post(new_token, headers, body).json()["pipelines"] == [app.pk]
    with pytest.raises(Exception, match="no project named"):
        call_command("imagehooktoken", "no-such-project", stdout=out, stderr=err)


# --- end to end: the real worker builds it --------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("registry", "payload", "pattern", "tag", "image"),
    [("harbor", "push_artifact", "library/webapp", "v*", HARBOR_IMAGE),
     ("dockerhub", "push", "acme/webapp", "latest", DOCKERHUB_IMAGE)],
)  # fmt: skip
def test_a_push_starts_an_execution_that_sees_the_image(
    registry, payload, pattern, tag, image, worker, make_repo, make_pipeline, h
):
    from devops.models import PipelineExecution
    from devops.selectors import read_step_log
    from devops.states import State

    pipeline = make_pipeline(make_repo(IMAGE_PIPELINE))
    ImageTrigger.objects.create(pipeline=pipeline, image=pattern, tag=tag)
    token = rotate_image_hook_token(pipeline.project)
    headers, body = fixture(registry, payload)
    response = post(token, headers, body)
    assert response.status_code == 202, response.json()
    assert response.json()["pipelines"] == [pipeline.pk]

    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.filter(pipeline=pipeline).exclude(outcome="queued").first(),
        30, "the delivery was never processed",
    )  # fmt: skip
    assert delivery.outcome == "created", delivery.reason
    execution = PipelineExecution.objects.get(pk=delivery.execution_id)
    assert (execution.event, execution.trigger_type, execution.branch) == ("image", "image", "main")
    final = h.wait_final(execution.pk, timeout=30)
    assert final.state == State.SUCCESS, h.describe(execution.pk)
    step = h.steps_of(execution.pk)["show"]
    h.wait_until(lambda: read_step_log(step).complete, 15, "the step log was never stored")
    assert f"img={image}" in read_step_log(step).data.decode()
