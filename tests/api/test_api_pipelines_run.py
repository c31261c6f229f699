"""``pipelines/{id}/run/`` and ``pipelines/validate/``: who may run, what the answer holds, every way a
run is refused (400 with the reason, 502 when the provider fails, never 500), and the temporary
config run end to end through the real worker: the posted file runs and the repository gets no commit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from devops.models import (
    Pipeline,
    PipelineExecution,
    PipelineTemplate,
    ProjectMember,
    SourceCodeCredential,
    StageRun,
)

PIPELINE = """\
stages:
  - name: build
    steps:
      - runScriptConfig:
          image: busybox
          shellScript: echo from-the-repository-file
"""
POSTED = """\
stages:
  - name: temporary
    steps:
      - runScriptConfig:
          image: busybox
          shellScript: echo "posted-config-ran on $CICD_GIT_BRANCH"
"""
BROKEN = "stages:\n  - name: x\n    steps: 5\n  - nme: y\n"
ROLES = ["owner", "member", "viewer", "staff", "outsider"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    other = make_pipeline(make_repo(PIPELINE))
    tag = h.unique_name("u")
    users, clients = {}, {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        clients[role] = client_for(users[role])
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other.project, user=users["outsider"], role="owner")
    return type("World", (), {"pipeline": pipeline, "other": other, "repo": repo, "users": users, "clients": clients})


def run(client: APIClient, pipeline_id: int, body: dict | None = None):
    return client.post(
        f"/api/v1/pipelines/{pipeline_id}/run/", data=json.dumps(body or {}), content_type="application/json"
    )


def refused(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    return body


# --- who may run -----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_run_needs_member(world, role):
    response = run(world.clients[role], world.pipeline.pk, {"branch": "main"})
    expected = {"owner": 201, "member": 201, "viewer": 403, "staff": 201, "outsider": 404}[role]
    assert response.status_code == expected, response.content
    assert world.pipeline.executions.exists() == (expected == 201)


@pytest.mark.django_db
def test_run_answers_the_execution(world):
    response = run(world.clients["member"], world.pipeline.pk, {"branch": "main"})
    assert response.status_code == 201
    data = response.json()
    execution = PipelineExecution.objects.get(pk=data["id"])
    assert data == {
        "id": execution.pk,
        "run": 1,
        "state": "Queueing",
        "branch": "main",
        "tag": "",
        "commit": world.repo.head(),
        "event": "manual",
        "config_file": ".devops.yml",
        "url": "http://testserver" + reverse("execution-detail", args=[execution.pk]),
    }
    assert data["url"].endswith(f"/api/v1/executions/{execution.pk}/")
    assert (execution.trigger_type, execution.triggered_by_id) == ("user", world.users["member"].pk)
    assert world.pipeline.webhook_secret not in response.content.decode()


@pytest.mark.django_db
def test_run_defaults_to_head_and_takes_a_tag_or_a_commit(world):
    first = world.repo.head()
    world.repo.tag("v1.0", "release")
    second = world.repo.commit({"b.txt": "2"}, "second")
    client = world.clients["member"]
    data = run(client, world.pipeline.pk).json()
    assert (data["branch"], data["commit"]) == ("main", second)
    data = run(client, world.pipeline.pk, {"tag": "v1.0"}).json()
    assert (data["tag"], data["commit"], data["event"]) == ("v1.0", first, "manual")
    data = run(client, world.pipeline.pk, {"branch": "main", "commit": first.upper()}).json()
    assert data["commit"] == first
    assert [e.run for e in world.pipeline.executions.order_by("run")] == [1, 2, 3]


# --- refusals ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_temporary_config_that_does_not_parse_lists_every_error_with_its_position(world):
    body = refused(run(world.clients["member"], world.pipeline.pk, {"config": BROKEN}))
    errors = body["config_errors"]
    assert len(errors) >= 2
    assert all(e["file"] == "(temporary)" and e["line"] >= 1 and e["column"] >= 1 and e["message"] for e in errors)
    assert {e["line"] for e in errors} >= {3, 4}
    assert body["errors"]["config"][0].startswith("(temporary):")
    assert "the pipeline file has" in body["detail"]
    assert not world.pipeline.executions.exists()


@pytest.mark.django_db
def test_the_repository_file_errors_come_back_the_same_way(world):
    world.repo.commit({".devops.yml": BROKEN}, "break it")
    body = refused(run(world.clients["member"], world.pipeline.pk, {"branch": "main"}))
    assert {e["file"] for e in body["config_errors"]} == {".devops.yml"}


@pytest.mark.django_db
def test_no_pipeline_file_filtered_branch_and_unknown_refs_are_400(world):
    client, pk = world.clients["member"], world.pipeline.pk
    world.repo.branch("docs")
    world.repo.commit({".devops.yml": "branch: main\n" + PIPELINE}, "only main")
    assert "excluded by the pipeline file's `branch` filter" in refused(run(client, pk, {"branch": "docs"}))["detail"]
    world.repo.branch("bare")
    world.repo.commit({".devops.yml": ""}, "placeholder")
    (world.repo.path / ".devops.yml").unlink()
    world.repo.commit({}, "no file")
    assert "no pipeline file" in refused(run(client, pk, {"branch": "bare"}))["detail"]
    assert "not found" in refused(run(client, pk, {"branch": "nope"}))["detail"]
    assert "not found" in refused(run(client, pk, {"tag": "v9"}))["detail"]
    missing = "0" * 40
    assert refused(run(client, pk, {"branch": "main", "commit": missing}))["detail"]
    assert not world.pipeline.executions.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"branch": "a..b"}, "branch", "invalid branch name"),
        ({"branch": "-upload-pack=x"}, "branch", "invalid branch name"),
        ({"tag": "v 1"}, "tag", "invalid tag name"),
        ({"branch": "main", "tag": "v1"}, "tag", "not both"),
        ({"commit": "abc123"}, "commit", "full hexadecimal commit SHA"),
        ({"commit": "g" * 40}, "commit", "full hexadecimal commit SHA"),
        ({"branch": ["main"]}, "branch", "Not a valid string"),
        ({"config": {"stages": []}}, "config", "Not a valid string"),
        ({"config": "stages: []\x00"}, "config", "Null characters"),
        ({"branch": "b" * 256}, "branch", "no more than 255"),
    ],
)
def test_invalid_run_input_is_400_naming_the_field(world, body, field, message):
    found = refused(run(world.clients["member"], world.pipeline.pk, body))["errors"]
    assert message in found[field][0]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/nonexistent/repository", "https://127.0.0.1:9/none.git", "git@127.0.0.1:x/y.git"])
def test_a_bad_repository_url_is_400_not_500(world, url):
    Pipeline.objects.filter(pk=world.pipeline.pk).update(repository_url=url)
    body = refused(run(world.clients["member"], world.pipeline.pk, {"branch": "main"}))
    assert "git" in body["detail"]
    assert refused(run(world.clients["member"], world.pipeline.pk, {"config": POSTED}))["detail"]


@pytest.mark.django_db
def test_a_token_that_cannot_be_refreshed_is_502(world):
    credential = SourceCodeCredential.objects.create(
        user=world.users["owner"], provider="github", host="https://github.example.com", login="o",
        access_token="expired-token-xyz", refresh_token="refresh-xyz",
        expires_at=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    Pipeline.objects.filter(pk=world.pipeline.pk).update(provider="github", credential=credential)
    response = run(world.clients["member"], world.pipeline.pk, {"branch": "main"})
    assert response.status_code == 502, response.content
    assert "cannot refresh" in response.json()["detail"]
    assert "expired-token-xyz" not in response.content.decode() and "refresh-xyz" not in response.content.decode()


# --- validate -----------------------------------------------------------------------------------------------
def validate(client: APIClient, body: dict):
    return client.post("/api/v1/pipelines/validate/", data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_validate_is_for_everyone_signed_in(world, role):
    response = validate(world.clients[role], {"config": PIPELINE})
    assert response.status_code == 200
    assert response.json() == {"valid": True, "stages": 2, "stage_names": ["Clone", "build"], "errors": []}


@pytest.mark.django_db
def test_validate_reports_every_error_with_line_and_column(world):
    response = validate(world.clients["viewer"], {"config": BROKEN})
    assert response.status_code == 200
    data = response.json()
    assert data["valid"] is False and data["stages"] is None and data["stage_names"] == []
    assert len(data["errors"]) >= 2
    assert all(set(e) == {"file", "line", "column", "message"} for e in data["errors"])
    assert {e["line"] for e in data["errors"]} >= {3, 4}
    assert validate(world.clients["viewer"], {"config": ""}).json()["valid"] is False
    unclosed = validate(world.clients["viewer"], {"config": "a: [unclosed"}).json()["errors"]
    assert unclosed and unclosed[0]["line"] in (1, 2) and unclosed[0]["message"]


@pytest.mark.django_db
def test_validate_uses_a_visible_projects_templates(world):
    PipelineTemplate.objects.create(project=world.pipeline.project, name="svc", body=PIPELINE, params={})
    text = "template: {name: svc}\n"
    assert validate(world.clients["viewer"], {"config": text}).json()["valid"] is False  # no templates without it
    data = validate(world.clients["viewer"], {"config": text, "project": world.pipeline.project_id}).json()
    assert data["valid"] is True and data["stage_names"] == ["Clone", "build"]
    assert (
        validate(world.clients["outsider"], {"config": text, "project": world.pipeline.project_id}).status_code == 404
    )
    assert validate(world.clients["outsider"], {"config": text, "project": 10**15}).status_code == 404


@pytest.mark.django_db
def test_validate_input_errors_are_400(world):
    client = world.clients["viewer"]
    assert refused(validate(client, {}))["errors"]["config"] == ["This field is required."]
    assert refused(validate(client, {"config": ["x"]}))["errors"]["config"]
    assert refused(validate(client, {"config": "x", "project": "p"}))["errors"]["project"]
    assert refused(validate(client, {"config": "x" * (1024 * 1024 + 1)}))["errors"]["config"]


# --- the temporary config, end to end ---------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_temporary_config_runs_the_posted_file_without_committing_it(worker, world, h):
    repo = world.repo
    before = {
        "head": repo.head(),
        "count": h.git(repo.path, "rev-list", "--count", "--all"),
        "refs": h.git(repo.path, "for-each-ref"),
        "status": h.git(repo.path, "status", "--porcelain"),
        "file": (repo.path / ".devops.yml").read_text(),
    }

    response = run(world.clients["member"], world.pipeline.pk, {"branch": "main", "config": POSTED})
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["config_file"], data["commit"]) == ("(temporary)", before["head"])

    execution = h.wait_final(data["id"], timeout=90)
    assert execution.state == "Success", h.describe(execution.pk)
    assert list(StageRun.objects.filter(execution=execution).values_list("name", flat=True)) == ["Clone", "temporary"]
    step = [s for s in h.steps_of(execution.pk).values() if s.stage_index == 1][0]
    log = h.stored_log(step)
    assert "posted-config-ran on main" in log
    assert "from-the-repository-file" not in log

    after = {
        "head": repo.head(),
        "count": h.git(repo.path, "rev-list", "--count", "--all"),
        "refs": h.git(repo.path, "for-each-ref"),
        "status": h.git(repo.path, "status", "--porcelain"),
        "file": (repo.path / ".devops.yml").read_text(),
    }
    assert after == before  # no commit, no branch, no change in the working tree
    detail = world.clients["viewer"].get(data["url"])
    assert detail.status_code == 200 and detail.json()["config_file"] == "(temporary)"

    # The next plain run reads the repository's file again: the temporary config was used once.
    plain = run(world.clients["member"], world.pipeline.pk, {"branch": "main"}).json()
    execution = h.wait_final(plain["id"], timeout=90)
    assert execution.state == "Success", h.describe(execution.pk)
    step = [s for s in h.steps_of(execution.pk).values() if s.stage_index == 1][0]
    assert "from-the-repository-file" in h.stored_log(step)
