"""The execution page (``/executions/<id>/``), its live ``status.json``, and Abort / Rerun.

Executions are made by the real trigger (git, pipeline file, engine). Without the worker fixture the
test runs inside a transaction whose on-commit hooks never fire, so an execution stays queued; the
worker test runs a real step and watches ``status.json`` change while it runs.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from devops.models import PipelineExecution, ProjectMember
from devops.states import FINAL_STATES, State

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig: {image: alpine, shellScript: 'echo compiled'}
      - name: image
        publishImageConfig: {tag: app:latest}
  - name: Deploy
    steps:
      - name: manifests
        applyYamlConfig: {path: ./deploy.yaml}
"""
ROLES = ["owner", "member", "viewer", "staff", "outsider"]
STATUS_KEYS = {
    "id",
    "run",
    "state",
    "reason",
    "final",
    "now",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "stages",
}
STAGE_KEYS = {"index", "name", "state", "started_at", "ended_at", "duration", "steps"}
STEP_KEYS = {"index", "name", "kind", "state", "exit_code", "reason", "started_at", "ended_at", "duration"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, trigger, django_user_model, h):
    """A pipeline with one queued execution, a second project the outsider owns, a user per role."""
    repo = make_repo(PIPELINE)
    repo.commit({"a.txt": "1"}, "Add the <b>thing</b>\n\nA longer body for the details.")
    pipeline = make_pipeline(repo)
    execution = trigger(pipeline, branch="main")
    other = make_pipeline(make_repo(PIPELINE))
    other_execution = trigger(other, branch="main")
    tag = h.unique_name("u")
    users = {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other.project, user=users["outsider"], role="owner")
    return type(
        "World",
        (),
        {
            "pipeline": pipeline,
            "execution": execution,
            "other_execution": other_execution,
            "users": users,
            "repo": repo,
        },
    )


# --- the page -----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_page_per_role(world, role):
    client = client_for(world.users[role])
    url = f"/executions/{world.execution.pk}/"
    response = client.get(url)
    if role == "outsider":
        assert response.status_code == 404
        assert "Add the" not in response.content.decode()
        return
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="stages"' in html
    for stage, step in ((1, 0), (1, 1), (2, 0)):  # stage 0 is the implicit Clone
        assert re.search(rf'class="step [^"]*" data-stage="{stage}" data-step="{step}"', html), (stage, step)
    assert world.execution.commit[:7] in html and "Test Author" in html
    assert "Add the &lt;b&gt;thing&lt;/b&gt;" in html and "<b>thing</b>" not in html
    assert 'id="log-lines"' in html and 'id="log"' in html
    member = role in ("owner", "member", "staff")
    assert ('id="abort"' in html) is member
    assert ('id="rerun"' in html) is member
    assert f"/api/v1/executions/{world.execution.pk}/logs/" in html


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(world):
    for url in (f"/executions/{world.execution.pk}/", f"/executions/{world.execution.pk}/status.json"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_missing_execution_is_404(world):
    client = client_for(world.users["owner"])
    assert client.get("/executions/999999999/").status_code == 404
    assert client.get("/executions/999999999/status.json").status_code == 404
    assert client.get("/executions/99999999999999999999999/").status_code == 404
    assert client.post("/executions/99999999999999999999999/abort/").status_code == 404


# --- status.json --------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_status_json_shape(world):
    response = client_for(world.users["viewer"]).get(f"/executions/{world.execution.pk}/status.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body["id"] == world.execution.pk and body["state"] == State.QUEUEING and body["final"] is False
    assert [s["name"] for s in body["stages"]] == ["Clone", "Build", "Deploy"]
    for stage in body["stages"]:
        assert set(stage) == STAGE_KEYS
        for step in stage["steps"]:
            assert set(step) == STEP_KEYS
            assert step["state"] in State.values and step["duration"] is None and step["exit_code"] is None
    assert [s["kind"] for s in body["stages"][1]["steps"]] == ["runScript", "publishImage"]
    assert client_for(world.users["outsider"]).get(f"/executions/{world.execution.pk}/status.json").status_code == 404


# --- abort and rerun ----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "member", "staff"])
def test_abort_and_rerun_as_member(world, role):
    client = client_for(world.users[role])
    pk = world.execution.pk
    response = client.post(f"/executions/{pk}/rerun/")
    new = PipelineExecution.objects.exclude(pk__in=[pk, world.other_execution.pk]).get(pipeline=world.pipeline)
    assert response.status_code == 302 and response["Location"] == f"/executions/{new.pk}/"
    assert new.rerun_of_id == pk and new.commit == world.execution.commit and new.run == world.execution.run + 1
    response = client.post(f"/executions/{pk}/abort/")
    assert response.status_code == 302 and response["Location"] == f"/executions/{pk}/"
    execution = PipelineExecution.objects.get(pk=pk)
    assert execution.state == State.ABORTED and execution.reason == f"aborted by {world.users[role].username}"
    page = client.get(response["Location"]).content.decode()
    assert "was aborted" in page and re.search(r'<form[^>]*id="abort-form" hidden', page)
    status = client.get(f"/executions/{pk}/status.json").json()
    assert status["state"] == State.ABORTED and status["final"] is True
    # Aborting again is not an error: the page says there is nothing left to abort.
    response = client.post(f"/executions/{pk}/abort/", follow=True)
    assert response.status_code == 200 and "already Aborted" in response.content.decode()


@pytest.mark.django_db
def test_viewer_cannot_abort_or_rerun(world):
    client = client_for(world.users["viewer"])
    pk = world.execution.pk
    assert client.post(f"/executions/{pk}/abort/").status_code == 403
    assert client.post(f"/executions/{pk}/rerun/").status_code == 403
    assert PipelineExecution.objects.get(pk=pk).state == State.QUEUEING
    assert PipelineExecution.objects.filter(pipeline=world.pipeline).count() == 1


@pytest.mark.django_db
def test_outsider_posts_are_404_and_gets_are_not_allowed(world):
    outsider, owner = client_for(world.users["outsider"]), client_for(world.users["owner"])
    pk = world.execution.pk
    for action in ("abort", "rerun"):
        assert outsider.post(f"/executions/{pk}/{action}/").status_code == 404
        assert owner.get(f"/executions/{pk}/{action}/").status_code == 405
    assert PipelineExecution.objects.get(pk=pk).state == State.QUEUEING


@pytest.mark.django_db
def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["owner"])
    assert client.post(f"/executions/{world.execution.pk}/abort/").status_code == 403
    page = client.get(f"/executions/{world.execution.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(f"/executions/{world.execution.pk}/abort/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert PipelineExecution.objects.get(pk=world.execution.pk).state == State.ABORTED


@pytest.mark.django_db
def test_raw_log_link_answers_with_the_session(world):
    """The page's log links are the API's; a signed-in browser reads them with its session."""
    client = client_for(world.users["viewer"])
    response = client.get(f"/api/v1/executions/{world.execution.pk}/logs/1/0/", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert response["X-Log-Complete"] == "false" and response["X-Log-Next-Offset"] == "0"
    assert (
        client_for(world.users["outsider"]).get(f"/api/v1/executions/{world.execution.pk}/logs/1/0/").status_code == 404
    )


# --- live, with the real worker -----------------------------------------------------------------------
SLOW = """\
stages:
  - name: Run
    steps:
      - name: slow
        runScriptConfig:
          image: alpine
          shellScript: |
            printf '\\033[32mgreen\\033[0m start\\n'
            sleep 2
            echo done
"""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_status_json_follows_a_running_execution(worker, make_repo, make_pipeline, trigger, django_user_model, h):
    pipeline = make_pipeline(make_repo(SLOW))
    user = django_user_model.objects.create_user(h.unique_name("viewer"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="viewer")
    client = client_for(user)
    execution = trigger(pipeline, branch="main")
    url = f"/executions/{execution.pk}/status.json"
    seen: list[str] = []

    def poll() -> dict:
        body = client.get(url).json()
        if len(body["stages"]) > 1:
            state = body["stages"][1]["steps"][0]["state"]
            if not seen or seen[-1] != state:
                seen.append(state)
        return body

    running = h.wait_until(lambda: (b := poll())["stages"][1:] and seen[-1] == "Building" and b, 30, "never ran")
    step = running["stages"][1]["steps"][0]
    assert running["state"] == State.BUILDING and running["final"] is False and running["started_at"]
    assert step["started_at"] and step["duration"] is not None and step["ended_at"] is None
    # The running step's log is readable through the page's log link while it runs.
    log_url = f"/api/v1/executions/{execution.pk}/logs/1/0/"
    h.wait_until(lambda: "start" in client.get(log_url).content.decode(), 10, "no line while the step ran")
    body = h.wait_until(lambda: (b := poll())["final"] and b, 30, "the execution never finished")
    assert body["state"] == State.SUCCESS and body["state"] in FINAL_STATES
    assert body["stages"][1]["steps"][0]["exit_code"] == 0 and body["duration"] >= 2
    assert seen[-1] == State.SUCCESS and "Building" in seen
    page = client.get(f"/executions/{execution.pk}/").content.decode()
    assert 'data-state="Success"' in page and 'id="abort"' not in page  # viewers never see the buttons
    raw = h.wait_until(
        lambda: (r := client.get(log_url))["X-Log-Complete"] == "true" and r,
        15,
        "the log was never stored",
    )
    assert "\x1b[32mgreen\x1b[0m start\n" in raw.content.decode() and "done" in raw.content.decode()
