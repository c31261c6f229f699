"""The webhook endpoint's answers for every provider, and the deliveries it records (no worker needed:
processing is enqueued on commit, and these tests' transactions never commit)."""

from __future__ import annotations

import json

import pytest
import webhook_deliveries as d
from django.test import Client

from devops.models import WebhookDelivery

pytestmark = pytest.mark.django_db
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def pipeline(make_repo, make_pipeline):
    return make_pipeline(make_repo("stages: []\n"))


def post(pipeline_id: int, headers: dict[str, str], body: bytes):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(f"/hooks/pipelines/{pipeline_id}/", data=body, content_type="application/json", **meta)


@pytest.mark.parametrize("provider", d.PROVIDERS)
def test_valid_delivery_is_recorded_once_and_a_replay_is_not(provider, pipeline):
    headers, body = d.push(provider, pipeline.webhook_secret, branch="main", sha=SHA)
    first = post(pipeline.pk, headers, body)
    assert first.status_code == 202, first.json()
    assert first.json()["status"] == "queued"
    assert first.json()["provider"] == provider
    delivery = WebhookDelivery.objects.get(pipeline=pipeline)
    assert (delivery.source, delivery.event, delivery.outcome) == (provider, "push", "queued")
    assert delivery.payload["branch"] == "main" and delivery.payload["commit"] == SHA

    replay = post(pipeline.pk, headers, body)
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    assert WebhookDelivery.objects.filter(pipeline=pipeline).count() == 1


@pytest.mark.parametrize("provider", d.PROVIDERS)
def test_bad_signature_is_401_and_records_nothing(provider, pipeline):
    headers, body = d.push(provider, "not-the-secret", branch="main", sha=SHA)
    response = post(pipeline.pk, headers, body)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


# GitLab sends a shared token, not a signature of the body.
@pytest.mark.parametrize("provider", [p for p in d.PROVIDERS if p != "gitlab"])
def test_a_body_changed_after_signing_is_401(provider, pipeline):
    headers, body = d.push(provider, pipeline.webhook_secret, branch="main", sha=SHA)
    response = post(pipeline.pk, headers, body.replace(SHA.encode(), b"f" * 40))
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("provider", d.PROVIDERS)
def test_disabled_push_trigger_is_202_with_the_reason(provider, pipeline):
    pipeline.trigger_push = False
    pipeline.save(update_fields=["trigger_push"])
    headers, body = d.push(provider, pipeline.webhook_secret, branch="main", sha=SHA)
    response = post(pipeline.pk, headers, body)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert "push events are turned off" in response.json()["reason"]
    assert not WebhookDelivery.objects.exists()


def test_unknown_pipeline_is_404(pipeline):
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    response = post(pipeline.pk + 100000, headers, body)
    assert response.status_code == 404
    assert "no pipeline" in response.json()["detail"]


def test_unknown_sender_is_400_naming_the_expected_headers(pipeline):
    response = post(pipeline.pk, {"X-Something": "1"}, b"{}")
    assert response.status_code == 400
    assert "X-GitHub-Event" in response.json()["detail"]


def test_oversized_body_is_413(pipeline, settings):
    settings.WEBHOOK_MAX_BYTES = 1000
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    body = body[:-1] + b', "pad": "' + b"x" * 2000 + b'"}'
    response = post(pipeline.pk, d.sign("github", pipeline.webhook_secret, headers, body), body)
    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_malformed_signed_body_is_400(pipeline):
    headers, _ = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    body = b"{not json"
    response = post(pipeline.pk, d.sign("github", pipeline.webhook_secret, headers, body), body)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_get_is_405(pipeline):
    assert Client().get(f"/hooks/pipelines/{pipeline.pk}/").status_code == 405


def test_github_ping_is_answered(pipeline):
    headers, body = d.fixture("github", "ping", pipeline.webhook_secret)
    response = post(pipeline.pk, headers, body)
    assert response.status_code == 200
    assert response.json()["status"] == "pong"


def test_closed_pull_request_is_ignored_with_a_reason(pipeline):
    headers, body = d.fixture("github", "pull_request_closed", pipeline.webhook_secret)
    response = post(pipeline.pk, headers, body)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert "closed" in response.json()["reason"]
    assert not WebhookDelivery.objects.exists()


def test_opened_pull_request_records_target_branch_and_head_commit(pipeline):
    headers, body = d.fixture("github", "pull_request_opened", pipeline.webhook_secret)
    payload = json.loads(body)
    response = post(pipeline.pk, headers, body)
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["kind"] == "pull_request"
    assert delivery.payload["branch"] == payload["pull_request"]["base"]["ref"]
    assert delivery.payload["commit"] == payload["pull_request"]["head"]["sha"]


def test_webhook_secret_never_in_answers(pipeline):
    headers, body = d.push("gitlab", "wrong", branch="main", sha=SHA)
    for h in (headers, d.push("github", "wrong", branch="main", sha=SHA)[0]):
        response = post(pipeline.pk, h, body)
        assert pipeline.webhook_secret not in response.content.decode()


def test_a_rotated_secret_applies_at_once_despite_the_cache(pipeline):
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    assert post(pipeline.pk, headers, body).status_code == 202  # the secret is now cached
    pipeline.webhook_secret = "rotated-secret"
    pipeline.save()
    old_headers, old_body = d.push("github", "some-other-secret", branch="main", sha=SHA)
    assert post(pipeline.pk, old_headers, old_body).status_code == 401
    headers, body = d.push("github", "rotated-secret", branch="main", sha=SHA)
    assert post(pipeline.pk, headers, body).status_code == 202


def test_a_switch_turned_off_applies_once_the_cache_expires(pipeline, settings):
    settings.WEBHOOK_PIPELINE_CACHE_SECONDS = 0
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    assert post(pipeline.pk, headers, body).status_code == 202
    pipeline.trigger_push = False
    pipeline.save()
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=SHA)
    assert post(pipeline.pk, headers, body).json()["status"] == "ignored"
