"""``/api/v1/executions/``: who sees which executions, the list and detail shapes, filters, abort
(through the real worker) and rerun.

Executions are made by the real trigger (git, pipeline file, engine). Without the worker fixture the
test runs inside a transaction whose on-commit hooks never fire, so an execution simply stays queued.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devops.models import PipelineExecution, ProjectMember, StageRun, StepRun
from devops.states import State

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig: {image: alpine, shellScript: 'echo compiled'}
      - name: image
        publishImageConfig: {dockerfilePath: ./Dockerfile, buildContext: ., tag: app:latest}
  - name: Deploy
    steps:
      - name: manifests
        applyYamlConfig: {path: ./deploy.yaml}
"""
SLEEPER = """\
stages:
  - name: Run
    steps:
      - name: long
        runScriptConfig: {image: alpine, shellScript: 'sleep 30'}
"""
ROLES = ["owner", "member", "viewer", "staff", "outsider"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, trigger, django_user_model, h):
    """A pipeline with one queued execution, a second project the outsider belongs to, and a user
    per role (usernames unique per test: the worker tests commit their rows)."""
    repo = make_repo(PIPELINE)
    repo.commit({"a.txt": "1"}, "Add the thing\n\nA longer body that the list must not show.")
    pipeline = make_pipeline(repo)
    execution = trigger(pipeline, branch="main")
    other_pipeline = make_pipeline(make_repo(PIPELINE))
    other_execution = trigger(other_pipeline, branch="main")
    tag = h.unique_name("u")
    users = {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other_pipeline.project, user=users["outsider"], role="owner")
    return type(
        "World",
        (),
        {
            "pipeline": pipeline,
            "execution": execution,
            "other_pipeline": other_pipeline,
            "other_execution": other_execution,
            "users": users,
            "repo": repo,
        },
    )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- visibility and roles -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_list_shows_only_executions_of_the_users_projects(world):
    mine, theirs = world.execution.pk, world.other_execution.pk
    for role in ("owner", "member", "viewer"):
        assert ids(client_for(world.users[role]).get("/api/v1/executions/")) == {mine}
    assert ids(client_for(world.users["outsider"]).get("/api/v1/executions/")) == {theirs}
    assert {mine, theirs} <= ids(client_for(world.users["staff"]).get("/api/v1/executions/"))
    assert APIClient().get("/api/v1/executions/").status_code in (401, 403)


EXPECTED = {
    # role: (detail, abort, rerun, logs)
    "owner": (200, 202, 201, 200),
    "member": (200, 202, 201, 200),
    "viewer": (200, 403, 403, 200),
    "staff": (200, 202, 201, 200),
    "outsider": (404, 404, 404, 404),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_status_per_role(world, role):
    client = client_for(world.users[role])
    base = f"/api/v1/executions/{world.execution.pk}/"
    detail, abort, rerun, logs = EXPECTED[role]
    assert client.get(base).status_code == detail
    assert client.get(f"{base}logs/0/0/").status_code == logs
    assert client.get(f"{base}logs/0/0/?follow=1&offset=abc").status_code == (400 if logs == 200 else 404)
    response = client.post(f"{base}rerun/")
    assert response.status_code == rerun, response.content
    response = client.post(f"{base}abort/")
    assert response.status_code == abort, response.content
    if abort >= 400:
        body = response.json()
        assert body["detail"] and "Add the thing" not in response.content.decode()
        assert PipelineExecution.objects.get(pk=world.execution.pk).state == State.QUEUEING
    else:
        assert response.json()["state"] == State.ABORTED
        assert response.json()["reason"] == f"aborted by {world.users[role].username}"
    # A foreign project's execution is a 404 for members of this one, whatever the action.
    if role in ("owner", "member", "viewer"):
        foreign = f"/api/v1/executions/{world.other_execution.pk}/"
        for method, url in (("get", foreign), ("post", f"{foreign}abort/"), ("post", f"{foreign}rerun/")):
            response = getattr(client, method)(url)
            assert response.status_code == 404 and set(response.json()) == {"detail"}
        assert client.get(f"{foreign}logs/0/0/").status_code == 404


@pytest.mark.django_db
def test_missing_and_malformed_ids_are_json_404(world):
    client = client_for(world.users["owner"])
    for url in (
        "/api/v1/executions/999999999/",
        "/api/v1/executions/abc/",
        "/api/v1/executions/99999999999999999999999/",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", url


# --- shapes -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_list_rows_are_compact(world):
    response = client_for(world.users["viewer"]).get("/api/v1/executions/")
    (row,) = response.json()["results"]
    ex = world.execution
    assert row == {
        "id": ex.pk,
        "pipeline": world.pipeline.pk,
        "pipeline_name": world.pipeline.name,
        "project": world.pipeline.project_id,
        "project_name": world.pipeline.project.name,
        "run": ex.run,
        "state": "Queueing",
        "event": "manual",
        "trigger_type": "user",
        "branch": "main",
        "tag": "",
        "commit": world.repo.head(),
        "message": "Add the thing",
        "author": ex.author,
        "created_at": row["created_at"],
        "started_at": None,
        "ended_at": None,
        "duration": None,
    }
    assert "stages" not in row and "config" not in row


@pytest.mark.django_db
def test_detail_has_stages_with_steps_kinds_and_log_urls(world):
    ex = world.execution
    StepRun.objects.filter(execution=ex, stage_index=1, index=0).update(state=State.FAILED, exit_code=3, reason="boom")
    response = client_for(world.users["viewer"]).get(f"/api/v1/executions/{ex.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == ex.pk and body["reason"] == "" and body["rerun_of"] is None
    assert body["triggered_by"] is None and body["config_file"] == ".devops.yml"
    assert body["message"] == "Add the thing" and "config" not in body
    assert [(s["index"], s["name"], s["state"]) for s in body["stages"]] == [
        (0, "Clone", "Waiting"),
        (1, "Build", "Waiting"),
        (2, "Deploy", "Waiting"),
    ]
    steps = [(s["name"], s["kind"]) for stage in body["stages"] for s in stage["steps"]]
    assert steps == [
        ("clone", "sourceCode"),
        ("compile", "runScript"),
        ("image", "publishImage"),
        ("manifests", "applyYaml"),
    ]
    compile_step = body["stages"][1]["steps"][0]
    assert compile_step == {
        "index": 0,
        "name": "compile",
        "kind": "runScript",
        "state": "Failed",
        "exit_code": 3,
        "started_at": None,
        "ended_at": None,
        "reason": "boom",
        "log_url": f"http://testserver/api/v1/executions/{ex.pk}/logs/1/0/",
    }


@pytest.mark.django_db
def test_detail_and_list_take_a_fixed_number_of_queries(world, trigger, django_assert_max_num_queries):
    for _ in range(15):
        trigger(world.pipeline, branch="main")
    client = client_for(world.users["viewer"])
    with django_assert_max_num_queries(6):  # session user, count, page (+ savepoints)
        assert len(client.get("/api/v1/executions/").json()["results"]) == 16
    with django_assert_max_num_queries(6):  # execution, membership, stages, steps
        assert len(client.get(f"/api/v1/executions/{world.execution.pk}/").json()["stages"]) == 3


# --- filters and ordering -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_filters_and_ordering(world, trigger):
    second = trigger(world.pipeline, branch="main")
    PipelineExecution.objects.filter(pk=second.pk).update(state=State.SUCCESS)
    client = client_for(world.users["staff"])
    first = world.execution.pk

    def get(query: str) -> list[int]:
        response = client.get(f"/api/v1/executions/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert get(f"pipeline={world.pipeline.pk}") == [second.pk, first]  # newest first
    assert get(f"pipeline={world.pipeline.pk}&ordering=run") == [first, second.pk]
    assert get(f"pipeline={world.pipeline.pk}&ordering=-created_at") == [second.pk, first]
    assert get(f"project={world.pipeline.project_id}&state=Success") == [second.pk]
    assert get(f"pipeline={world.pipeline.pk}&event=manual&branch=main") == [second.pk, first]
    assert get(f"pipeline={world.pipeline.pk}&branch=other") == []
    assert get(f"pipeline={world.pipeline.pk}&event=push") == []
    # An outsider filtering by this project's pipeline gets an empty list, as for a missing one.
    outsider = client_for(world.users["outsider"])
    response = outsider.get(f"/api/v1/executions/?pipeline={world.pipeline.pk}")
    assert response.status_code == 200 and response.json()["results"] == []
    for query, field in (("state=Nope", "state"), ("pipeline=abc", "pipeline"), ("pipeline=1.5", "pipeline"),
                         ("event=x", "event"), ("project=0", "project")):  # fmt: skip
        response = client.get(f"/api/v1/executions/?{query}")
        assert response.status_code == 400, query
        assert field in response.json()["errors"], response.json()


# --- abort and rerun ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_abort_of_a_final_execution_is_409(world):
    PipelineExecution.objects.filter(pk=world.execution.pk).update(state=State.SUCCESS)
    response = client_for(world.users["member"]).post(f"/api/v1/executions/{world.execution.pk}/abort/")
    assert response.status_code == 409
    assert response.json() == {"detail": "execution is already Success; only a queued or running one can be aborted"}


@pytest.mark.django_db
def test_rerun_creates_a_new_execution_of_the_same_snapshot(world):
    old = world.execution
    response = client_for(world.users["member"]).post(f"/api/v1/executions/{old.pk}/rerun/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != old.pk and body["rerun_of"] == old.pk and body["run"] == old.run + 1
    assert body["triggered_by"] == world.users["member"].username and body["trigger_type"] == "user"
    assert body["state"] == "Queueing" and body["commit"] == old.commit and body["branch"] == "main"
    new = PipelineExecution.objects.get(pk=body["id"])
    assert new.config == PipelineExecution.objects.get(pk=old.pk).config
    assert StageRun.objects.filter(execution=new).count() == 3
    assert [s["name"] for s in body["stages"]] == ["Clone", "Build", "Deploy"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_abort_stops_a_running_execution_through_the_worker(
    worker, make_repo, make_pipeline, trigger, django_user_model, h
):
    pipeline = make_pipeline(make_repo(SLEEPER))
    user = django_user_model.objects.create_user(h.unique_name("member"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="member")
    ex = trigger(pipeline)
    step = h.wait_until(
        lambda: StepRun.objects.filter(execution=ex, name="long", state=State.BUILDING, pid__isnull=False).first(),
        30,
        f"the sleep never started:\n{h.describe(ex.pk)}",
    )
    response = client_for(user).post(f"/api/v1/executions/{ex.pk}/abort/")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "Aborted"
    final = h.wait_final(ex.pk, timeout=5)
    assert final.state == State.ABORTED and final.reason == f"aborted by {user.username}"
    h.wait_until(lambda: h.group_gone(step.pid), 5, "the step's process group survived the abort")
    assert StepRun.objects.get(pk=step.pk).state == State.ABORTED
    again = client_for(user).post(f"/api/v1/executions/{ex.pk}/abort/")
    assert again.status_code == 409 and "already Aborted" in again.json()["detail"]
