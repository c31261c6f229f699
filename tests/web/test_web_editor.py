"""The visual editor (``/pipelines/<id>/edit/``): who may use it, the parse/render round trip that keeps
the forms and the YAML in sync, errors with lines and field paths, "Run once", and "Save to repository"
through a fake GitHub over real HTTP (the fake commits in the backing git repository).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from django.test import Client

from devops.models import PipelineExecution, PipelineTemplate, ProjectMember, SourceCodeCredential
from devops.pipeline_config import parse_pipeline
from devops.pipeline_services import TEMPORARY_CONFIG_NAME
from devops.scm.base import ScmProvider
from devops.scm.registry import get_provider
from devops.states import State
from devops.testing.fake_scm import FakeScm
from devops.triggers import TemplateDef
from devops.web.editor_model import (
    STARTER,
    ModelError,
    parse_for_editor,
    render_model,
)
from devops.web.editor_save import NO_PROVIDER_SUPPORT, provider_can_commit

PIPELINE = """\
stages:
  - name: Build
    steps:
      - runScriptConfig: {image: alpine, shellScript: echo built}
"""
ROLES = ["owner", "member", "viewer", "staff", "outsider"]

# Every step kind, every field the editor has, and the Rancher spellings the parser also accepts.
KIND_FILES = {
    "runScript": """\
timeout: 30
branch: {include: [main, "release/*"], exclude: "wip/*"}
stages:
  - name: Test
    when: {branch: main, event: [push, tag]}
    cache: {paths: /cache}
    steps:
      - name: unit
        runScriptConfig:
          image: golang:1.22
          shellScript: |
            go vet ./...
            go test ./...
        env: {CGO_ENABLED: 0, GREETING: "a: b"}
        envFrom:
          - {sourceName: codecov, sourceKey: token, targetKey: CODECOV_TOKEN}
          - {sourceName: other, sourceKey: PLAIN}
        timeout: 10
        cpuRequest: 500m
        cpuLimit: 2
        memoryRequest: 256Mi
        memoryLimit: 1Gi
        when: {event: {exclude: [pull_request]}}
      - runScriptConfig: {image: alpine, shellScript: "echo 'second'"}
        cache: {paths: [/root/.cache, /go/pkg/mod]}
""",
    "sourceCode": """\
stages:
  - name: Checkout
    steps:
      - sourceCodeConfig: {}
  - name: Build
    steps:
      - runScriptConfig: {image: alpine, shellScript: make}
""",
    "publishImage": """\
stages:
  - name: Publish
    steps:
      - publishImageConfig:
          dockerfilePath: ./build/Dockerfile
          buildContext: ./build
          tag: myorg/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}
          pushRemote: true
          registry: registry.example.com
          preload: {nodes: [node-1, node-2], parallelism: 5}
      - publishImageConfig:
          tag: local/app:dev
          preload: {selector: {node-type: app}}
      - publishImageConfig: {tag: plain/app:1}
""",
    "applyYaml": """\
stages:
  - name: Deploy
    steps:
      - applyYamlConfig: {path: ./deploy/app.yaml, namespace: production}
      - applyYamlConfig:
          content: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
""",
    "applyApp": """\
stages:
  - name: Release
    steps:
      - applyAppConfig:
          chart: app
          repo: https://charts.example.com
          version: 1.10
          name: app
          targetNamespace: production
          answers: {image: {tag: "${CICD_GIT_COMMIT}"}, replicas: 3}
      - applyAppConfig: {chart: other, name: other, targetNamespace: staging}
""",
    "notification": """\
notification:
  recipients: [{recipient: "#builds", notifier: slack}]
  condition: Failed
stages:
  - name: Build
    steps:
      - runScriptConfig: {image: alpine, shellScript: make}
""",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    other = make_pipeline(make_repo(PIPELINE))
    tag = h.unique_name("u")
    users = {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other.project, user=users["outsider"], role="owner")
    return type("World", (), {"pipeline": pipeline, "users": users, "repo": repo})


def post_json(client: Client, url: str, body: object, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


# --- the page and who may use it ----------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_page_per_role(world, role):
    client = client_for(world.users[role])
    base = f"/pipelines/{world.pipeline.pk}/edit/"
    expected = {"viewer": 403, "outsider": 404}.get(role, 200)
    response = client.get(base)
    assert response.status_code == expected
    assert post_json(client, base + "parse.json", {"yaml": PIPELINE}).status_code == expected
    assert post_json(client, base + "render.json", {"model": {"stages": []}}).status_code == expected
    if expected != 200:
        return
    html = response.content.decode()
    for marker in ('id="editor-yaml"', 'id="editor-errors"', 'id="run-once"', 'id="editor-forms"', "editor.js"):
        assert marker in html
    assert "echo built" in html  # the file at the default branch head, in the textarea
    initial = json.loads(
        re.search(r'<script id="editor-initial" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    assert initial["valid"] is True and initial["model"]["stages"][0]["name"] == "Build"
    # A plain git repository has no API to commit through: the button is there, disabled, saying why.
    assert re.search(r'<button type="button" id="save" disabled[^>]*title="[^"]*no API', html)


@pytest.mark.django_db
def test_missing_pipelines_are_404(world):
    client = client_for(world.users["owner"])
    for pk in (999999999, 99999999999999999999999):
        assert client.get(f"/pipelines/{pk}/edit/").status_code == 404
        assert post_json(client, f"/pipelines/{pk}/edit/parse.json", {"yaml": PIPELINE}).status_code == 404


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(world):
    response = Client().get(f"/pipelines/{world.pipeline.pk}/edit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_without_a_pipeline_file_the_page_starts_from_an_example(make_repo, make_pipeline, world):
    pipeline = make_pipeline(make_repo(None))
    ProjectMember.objects.create(project=pipeline.project, user=world.users["member"], role="member")
    html = client_for(world.users["member"]).get(f"/pipelines/{pipeline.pk}/edit/").content.decode()
    assert "There is no pipeline file on main yet" in html
    assert "hello from the pipeline" in html and parse_for_editor(STARTER).valid


@pytest.mark.django_db
def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["member"])
    url = f"/pipelines/{world.pipeline.pk}/edit/parse.json"
    assert post_json(client, url, {"yaml": PIPELINE}).status_code == 403
    page = client.get(f"/pipelines/{world.pipeline.pk}/edit/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    assert post_json(client, url, {"yaml": PIPELINE}, HTTP_X_CSRFTOKEN=token).status_code == 200


# --- the round trip -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(KIND_FILES))
def test_parse_and_render_keep_the_files_meaning(world, kind):
    """YAML -> parse.json -> model -> render.json -> YAML runs exactly what the original runs, and
    parsing the rendered YAML gives the same model again (the forms do not drift)."""
    client = client_for(world.users["member"])
    base = f"/pipelines/{world.pipeline.pk}/edit/"
    source = KIND_FILES[kind]
    parsed = post_json(client, base + "parse.json", {"yaml": source}).json()
    assert parsed["valid"] is True and parsed["errors"] == [] and parsed["model"]
    rendered = post_json(client, base + "render.json", {"model": parsed["model"]}).json()
    assert rendered["valid"] is True and rendered["errors"] == []
    assert parse_pipeline(rendered["yaml"]).to_dict() == parse_pipeline(source).to_dict()
    assert rendered["model"] == parsed["model"]
    again = post_json(client, base + "parse.json", {"yaml": rendered["yaml"]}).json()
    assert again["model"] == parsed["model"]


def test_the_model_keeps_what_the_file_says_and_not_what_the_parser_adds():
    model = parse_for_editor(KIND_FILES["runScript"]).model
    stage = model["stages"][0]
    assert [s["name"] for s in model["stages"]] == ["Test"]  # no implicit Clone stage
    assert stage["cache"] == {"paths": ["/cache"]} and "cache" not in stage["steps"][0]
    assert stage["steps"][0]["name"] == "unit" and "name" not in stage["steps"][1]  # no default names
    assert stage["steps"][1]["cache"] == {"paths": ["/root/.cache", "/go/pkg/mod"]}
    assert stage["steps"][0]["env"] == {"CGO_ENABLED": "0", "GREETING": "a: b"}
    assert stage["steps"][0]["when"]["event"] == ["push", "tag", "manual", "image", "cron"]
    assert model["branch"] == {"include": ["main", "release/*"], "exclude": ["wip/*"]}
    assert "shellScript: |" in render_model(model)  # scripts stay readable block strings
    app = parse_for_editor(KIND_FILES["applyApp"]).model["stages"][0]["steps"][0]["applyAppConfig"]
    assert app["values"] == {"image.tag": "${CICD_GIT_COMMIT}", "replicas": "3"} and app["version"] == "1.10"


def test_a_file_using_a_template_keeps_the_template_and_only_its_own_stages():
    templates = {
        "go": TemplateDef(name="go", body=PIPELINE.replace("Build", "${params.stage}"), params={"stage": None})
    }
    source = (
        "template: {name: go, params: {stage: Compile}}\nstages:\n  - name: Ship\n    steps:\n"
        "      - runScriptConfig: {image: alpine, shellScript: ship}\n"
    )
    result = parse_for_editor(source, templates)
    assert result.valid and result.model["template"] == {"name": "go", "params": {"stage": "Compile"}}
    assert [s["name"] for s in result.model["stages"]] == ["Ship"]
    text = render_model(result.model)
    assert parse_pipeline(text, templates=templates).to_dict() == parse_pipeline(source, templates=templates).to_dict()
    only = parse_for_editor("template: go\n", {**templates, "go": TemplateDef("go", PIPELINE, {})})
    assert only.valid and only.model == {"template": {"name": "go", "params": {}}, "stages": []}
    assert parse_pipeline(render_model(only.model), templates={"go": TemplateDef("go", PIPELINE, {})})


@pytest.mark.django_db
def test_parse_uses_the_projects_templates(world):
    PipelineTemplate.objects.create(project=world.pipeline.project, name="go", body=PIPELINE, params={})
    client = client_for(world.users["member"])
    body = post_json(client, f"/pipelines/{world.pipeline.pk}/edit/parse.json", {"yaml": "template: go\n"}).json()
    assert body["valid"] is True, body
    body = post_json(client, f"/pipelines/{world.pipeline.pk}/edit/parse.json", {"yaml": "template: nope\n"}).json()
    assert body["valid"] is False and "unknown template 'nope'" in body["errors"][0]["message"]


# --- errors with lines and the offending field --------------------------------------------------------
@pytest.mark.django_db
def test_errors_have_lines_columns_and_field_paths(world):
    client = client_for(world.users["member"])
    url = f"/pipelines/{world.pipeline.pk}/edit/parse.json"
    broken = (
        "stages:\n"
        "  - name: Build\n"
        "    steps:\n"
        "      - runScriptConfig: {image: 'a b', shellScript: make}\n"
        "        timeout: soon\n"
        "        env: {1BAD: x}\n"
        "        when: {event: pushh}\n"
    )
    body = post_json(client, url, {"yaml": broken}).json()
    assert body["valid"] is False and body["model"] is None
    found = {(e["line"], e["path"]) for e in body["errors"]}
    assert (4, "stages.0.steps.0.runScriptConfig.image") in found
    assert (5, "stages.0.steps.0.timeout") in found
    assert (6, "stages.0.steps.0.env.1BAD") in found
    assert (7, "stages.0.steps.0.when.event") in found
    assert all(e["column"] >= 1 and e["message"] and e["file"] == ".devops.yml" for e in body["errors"])
    assert any("did you mean 'push'" in e["message"] for e in body["errors"])
    syntax = post_json(client, url, {"yaml": "stages:\n  - name: [unclosed\n"}).json()
    assert syntax["valid"] is False and syntax["errors"][0]["line"] >= 2 and syntax["errors"][0]["path"] == ""


@pytest.mark.django_db
def test_render_reports_the_forms_errors_on_the_rendered_lines(world):
    client = client_for(world.users["member"])
    model = {
        "stages": [
            {"name": "Build", "steps": [{"runScriptConfig": {"image": "", "shellScript": "make"}, "timeout": "abc"}]},
            {"name": "", "steps": []},
        ]
    }
    body = post_json(client, f"/pipelines/{world.pipeline.pk}/edit/render.json", {"model": model}).json()
    assert body["valid"] is False and body["model"] is None
    lines = body["yaml"].splitlines()
    by_path = {e["path"]: e for e in body["errors"]}
    image = by_path["stages.0.steps.0.runScriptConfig.image"]
    assert lines[image["line"] - 1].strip().startswith("image:")
    assert lines[by_path["stages.0.steps.0.timeout"]["line"] - 1].strip() == "timeout: abc"
    assert any(path.startswith("stages.1") for path in by_path)


@pytest.mark.django_db
def test_malformed_requests_are_400_never_500(world):
    client = client_for(world.users["member"])
    base = f"/pipelines/{world.pipeline.pk}/edit/"
    assert post_json(client, base + "parse.json", {"yaml": 5}).status_code == 400
    assert client.post(base + "parse.json", data="{not json", content_type="application/json").status_code == 400
    for model in ([], {"stages": {}}, {"stages": [{"steps": [{"runScriptConfig": []}]}]}, {"stages": [{"env": 1}]}):
        assert post_json(client, base + "render.json", {"model": model}).status_code in (200, 400), model
    assert post_json(client, base + "render.json", {"model": {"stages": "x"}}).status_code == 400
    with pytest.raises(ModelError):
        render_model({"stages": [{"steps": [{"env": [1]}]}]})


# --- run once -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_run_once_creates_a_temporary_config_execution(world):
    """The editor's "Run once" posts the YAML to the API's run action with the session and the CSRF
    token, as the page's script does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["member"])
    page = client.get(f"/pipelines/{world.pipeline.pk}/edit/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    run_url = re.search(r'data-run-url="([^"]+)"', page)[1]
    config = PIPELINE.replace("echo built", "echo edited in the browser")
    response = post_json(client, run_url, {"config": config, "branch": "main"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    execution = PipelineExecution.objects.get(pk=response.json()["id"])
    assert execution.config_file == TEMPORARY_CONFIG_NAME and execution.state == State.QUEUEING
    assert execution.config == parse_pipeline(config).to_dict()
    assert execution.commit == world.repo.head()
    assert client.get(f"/executions/{execution.pk}/").status_code == 200
    refused = post_json(client, run_url, {"config": "stages: nope\n"}, HTTP_X_CSRFTOKEN=token)
    assert refused.status_code == 400 and refused.json()["config_errors"][0]["line"] == 1
    viewer = Client()
    viewer.force_login(world.users["viewer"])
    assert post_json(viewer, run_url, {"config": config}).status_code == 403


# --- save to repository -------------------------------------------------------------------------------
def test_only_providers_that_implement_commit_file_can_save():
    class NoCommits(ScmProvider):
        name = "nocommits"

    assert provider_can_commit(NoCommits()) is False
    assert provider_can_commit(get_provider("github", "https://github.example.com")) is True
    assert NO_PROVIDER_SUPPORT == "saving to the repository needs provider support (coming)"


@pytest.fixture
def github(make_repo, make_pipeline, world):
    """The world's owner and member with a pipeline on a fake GitHub repository the owner may push to."""
    fake = FakeScm("github").start()
    try:
        fake.add_user("writer")
        fake.add_user("reader")
        repo = make_repo(PIPELINE)
        fake.add_repo("octo/app", repo.path, writers={"writer"}, readers={"reader"}, private=True)
        pipeline = make_pipeline(f"{fake.url}/octo/app.git")
        owner, member = world.users["owner"], world.users["member"]
        ProjectMember.objects.create(project=pipeline.project, user=owner, role="owner")
        ProjectMember.objects.create(project=pipeline.project, user=member, role="member")
        credentials = {
            user: SourceCodeCredential.objects.create(
                user=user, provider="github", host=fake.url, login=login, access_token=fake.users[login].token
            )
            for user, login in ((owner, "writer"), (member, "reader"))
        }
        pipeline.provider, pipeline.credential = "github", credentials[owner]
        pipeline.save()
        yield type("GitHub", (), {"fake": fake, "repo": repo, "pipeline": pipeline, "owner": owner, "member": member})
    finally:
        fake.stop()


@pytest.mark.django_db
def test_save_commits_the_file_as_the_owner(github):
    client = client_for(github.owner)
    base = f"/pipelines/{github.pipeline.pk}/edit/"
    html = client.get(base).content.decode()
    assert re.search(r'<button type="button" id="save" title="Commit \.devops\.yml to main"', html), html
    head = github.repo.head()
    assert f'data-base-commit="{head}"' in html
    text = PIPELINE.replace("echo built", "echo saved from the editor")
    response = post_json(client, base + "save/", {"yaml": text, "message": "Edit in the browser", "base_commit": head})
    assert response.status_code == 200, response.content
    sha = response.json()["commit"]
    show = subprocess.run(["git", "show", f"{sha}:.devops.yml"], cwd=github.repo.path, capture_output=True, text=True)
    assert show.stdout == text
    log = subprocess.run(["git", "log", "-1", "--format=%s", sha], cwd=github.repo.path, capture_output=True, text=True)
    assert log.stdout.strip() == "Edit in the browser"
    # Saving again from the old commit would overwrite the new file: refused, nothing committed.
    stale = post_json(client, base + "save/", {"yaml": PIPELINE, "base_commit": head})
    assert stale.status_code == 409 and github.repo.head() == sha
    broken = post_json(client, base + "save/", {"yaml": "stages: 1\n", "base_commit": sha})
    assert broken.status_code == 400 and broken.json()["errors"][0]["line"] == 1


@pytest.mark.django_db
def test_members_cannot_save(github):
    client = client_for(github.member)
    html = client.get(f"/pipelines/{github.pipeline.pk}/edit/").content.decode()
    assert re.search(r'id="save" disabled[^>]*title="only project owners', html)
    response = post_json(client, f"/pipelines/{github.pipeline.pk}/edit/save/", {"yaml": PIPELINE})
    assert response.status_code == 403 and github.repo.head() == github.repo.shas[-1]


@pytest.mark.django_db
def test_an_owner_without_a_credential_is_told_to_sign_in(github):
    SourceCodeCredential.objects.filter(user=github.owner).update(user=github.member)
    html = client_for(github.owner).get(f"/pipelines/{github.pipeline.pk}/edit/").content.decode()
    assert re.search(r'id="save" disabled[^>]*title="sign in with GitHub', html)
