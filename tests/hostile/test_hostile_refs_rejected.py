"""Ref names that could act as git options or point outside ``refs/heads``: refused with a message at
every way in (API run, trigger, webhook push), before git or a shell sees them; nothing is created.

``-x`` and ``--upload-pack=...`` are names git itself accepts for a branch; the rest git refuses, and
the service refuses them before running git at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from devops.models import PipelineExecution, ProjectMember, WebhookDelivery
from devops.triggers import TriggerError, trigger_pipeline
from devops.webhooks.deliveries import record_delivery
from devops.webhooks.process import process_delivery

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhooks"))  # the shared signed deliveries
import webhook_deliveries as deliveries  # noqa: E402

pytestmark = pytest.mark.django_db
PIPELINE = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"


def refused_names(sentinels: Path) -> list[str]:
    return [
        "-x",
        f"--upload-pack=touch${{IFS}}{sentinels}/upload-pack",
        f"../../..{sentinels}/dotdot",
        f"{sentinels}/absolute",
        "main/",
        "a..b",
        "x.lock",
        "main@{1}",
        "a" * 256,
    ]


@pytest.fixture
def world(make_repo, make_pipeline, tmp_path, django_user_model, h):
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    user = django_user_model.objects.create_user(h.unique_name("member"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="member")
    api = APIClient()
    api.force_authenticate(user)
    return pipeline, repo, sentinels, api


def test_api_run_refuses_each_name_with_a_message(world):
    pipeline, _repo, sentinels, api = world
    for name in refused_names(sentinels):
        for field in ("branch", "tag"):
            answer = api.post(f"/api/v1/pipelines/{pipeline.pk}/run/", {field: name}, format="json")
            assert answer.status_code == 400, (name, answer.content)
            body = answer.json()
            message = body["errors"][field][0]
            assert message in (f"invalid {field} name {name!r}", "Ensure this field has no more than 255 characters.")
    assert not PipelineExecution.objects.exists()
    assert list(sentinels.iterdir()) == []


def test_trigger_refuses_each_name(world):
    pipeline, _repo, sentinels, _api = world
    for name in refused_names(sentinels):
        with pytest.raises(TriggerError, match="^invalid branch name "):
            trigger_pipeline(pipeline, branch=name)
        with pytest.raises(TriggerError, match="^invalid tag name "):
            trigger_pipeline(pipeline, tag=name)
    assert not PipelineExecution.objects.exists()
    assert list(sentinels.iterdir()) == []


def test_webhook_push_of_each_name_is_refused_at_the_door(world):
    pipeline, repo, sentinels, _api = world
    for name in refused_names(sentinels):
        headers, body = deliveries.push("github", pipeline.webhook_secret, branch=name, sha=repo.head())
        meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
        answer = Client().post(f"/hooks/pipelines/{pipeline.pk}/", data=body, content_type="application/json", **meta)
        assert answer.status_code == 400, (name, answer.content)
        assert answer.json()["detail"] == f"GitHub delivery: invalid branch name {name!r}"
    assert not WebhookDelivery.objects.exists()
    assert list(sentinels.iterdir()) == []


def test_a_recorded_delivery_with_such_a_name_fails_with_the_reason(world):
    """Behind the door too: a delivery recorded with such a name (by an older intake, or a provider
    parser that lets one through) fails with the reason when processed, and builds nothing.
    Processed in this process: these transactions never commit, so nothing is queued."""
    pipeline, repo, sentinels, _api = world
    for index, name in enumerate(refused_names(sentinels)):
        for kind, field in (("push", "branch"), ("tag", "tag")):
            payload = {"kind": kind, field: name, "commit": repo.head()}
            delivery = record_delivery(pipeline.pk, source="github", delivery_id=f"d-{kind}-{index}", event=kind,
                                       payload=payload)  # fmt: skip
            process_delivery(delivery.pk)
            delivery.refresh_from_db()
            assert (delivery.outcome, delivery.reason) == ("failed", f"invalid {field} name {name!r}")
    assert not PipelineExecution.objects.exists()
    assert list(sentinels.iterdir()) == []
