"""Shared set-up of the pipeline API tests (test_api_pipelines*.py): a project with every role,
a foreign project, and small request helpers."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from devops.models import Pipeline, ProjectMember, SourceCodeCredential

PIPELINE = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"
ROLES = ["owner", "member", "viewer", "staff", "outsider"]
NETWORK_URL = "https://git.example.com/team/app.git"
TOKEN = "tok-do-not-show-1f2e3d"

def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    """A pipeline in a project with an owner, a member and a viewer; staff; an outsider who owns
    another project (so "foreign" is a real project, not a missing one); a credential per user."""
    pipeline = make_pipeline(make_repo(PIPELINE))
    other = make_pipeline(make_repo(PIPELINE))
    tag = h.unique_name("u")
    users, clients, credentials = {}, {}, {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        clients[role] = client_for(users[role])
        credentials[role] = SourceCodeCredential.objects.create(
            user=users[role], provider="git", login=role, access_token=f"{TOKEN}-{role}", refresh_token=f"r-{TOKEN}"
        )
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other.project, user=users["outsider"], role="owner")
    return type(
        "World",
        (),
        {"pipeline": pipeline, "other": other, "users": users, "clients": clients, "credentials": credentials},
    )


def new_body(project_id: int, **extra) -> dict:
    return {"project": project_id, "name": "built", "repository_url": NETWORK_URL, **extra}


def post(client: APIClient, path: str, body: dict | None = None, method: str = "post"):
    return getattr(client, method)(path, data=json.dumps(body or {}), content_type="application/json")


def assert_no_secret(world, response) -> None:
    """No webhook secret and no credential token in the raw bytes of an answer."""
    raw = response.content.decode()
    for pipeline in Pipeline.objects.all():
        assert pipeline.webhook_secret not in raw
    assert TOKEN not in raw and "r-" + TOKEN not in raw


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    return body.get("errors", {})

