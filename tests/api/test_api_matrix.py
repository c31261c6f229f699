"""The generated access matrix: every API endpoint × every role × own/foreign project.

``ENDPOINTS`` names each operation once with the least role it needs and the status it answers on
success; the matrix is generated from it (× owner, member, viewer, staff, an outsider — another
project's owner, for whom this project is foreign — and anonymous). A route the router serves that
is missing here fails ``test_every_route_is_in_the_matrix``, so a new endpoint cannot skip it.

Every answer of every case is also scanned: no value of a project secret, registry password,
webhook secret or SCM token, and nothing of the foreign project, may appear in any response body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from devops import engine
from devops.models import (
    Pipeline,
    ProjectMember,
    ProjectSecret,
    RegistryCredential,
    SourceCodeCredential,
    SourceCodeRepository,
)
from devops.pipeline_config import parse_pipeline
from devops.testing.fake_scm import FakeScm

pytestmark = pytest.mark.django_db

PIPELINE_FILE = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: busybox, shellScript: 'true'}\n"
ROLES = ("owner", "member", "viewer", "staff", "outsider", "anonymous")
RANK = {"viewer": 1, "member": 2, "owner": 3, "staff": 3}


@dataclass
class World:
    project: Any
    foreign: Any
    users: dict[str, Any]
    pipeline: Pipeline
    execution: Any
    secret: ProjectSecret
    registry: RegistryCredential
    viewer_id: int
    credential: SourceCodeCredential
    repository: SourceCodeRepository
    secrets: list[str] = field(default_factory=list)
    foreign_marks: list[str] = field(default_factory=list)


def _execution(pipeline: Pipeline) -> Any:
    spec = parse_pipeline(PIPELINE_FILE, filename=".devops.yml")
    return engine.create_execution(pipeline, spec, engine.TriggerInfo(branch="main", ref="refs/heads/main"))


@pytest.fixture
def github():
    fake = FakeScm("github").start()
    yield fake
    fake.stop()


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, github) -> World:
    repo = make_repo(PIPELINE_FILE)
    pipeline = make_pipeline(repo, name="matrix")
    project = pipeline.project
    foreign_pipeline = make_pipeline(repo, name="elsewhere-pipeline")
    foreign = foreign_pipeline.project
    users = {name: django_user_model.objects.create_user(f"matrix-{name}") for name in ROLES[:-1]}
    users["staff"].is_staff = True
    users["staff"].save()
    for role in ("owner", "member", "viewer"):
        ProjectMember.objects.create(project=project, user=users[role], role=role)
    ProjectMember.objects.create(project=foreign, user=users["outsider"], role="owner")
    secret = ProjectSecret.objects.create(project=project, name="deploy", data={"TOKEN": "matrix-secret-value"})
    registry = RegistryCredential.objects.create(
        project=project, registry="registry.example.com", username="bot", password="matrix-registry-password"
    )
    ProjectSecret.objects.create(project=foreign, name="elsewhere-secret", data={"K": "foreign-secret-value"})
    github.add_user("matrix-owner", token="matrix-scm-token")
    credential = SourceCodeCredential.objects.create(
        user=users["owner"], provider="github", host=github.url, login="matrix-owner", access_token="matrix-scm-token"
    )
    repository = SourceCodeRepository.objects.create(
        credential=credential, url="https://github.example.com/o/r", clone_url="https://github.example.com/o/r.git"
    )
    execution = _execution(pipeline)
    _execution(foreign_pipeline)
    return World(
        project=project, foreign=foreign, users=users, pipeline=pipeline, execution=execution, secret=secret,
        registry=registry, viewer_id=users["viewer"].pk, credential=credential, repository=repository,
        secrets=["matrix-secret-value", "matrix-registry-password", "matrix-scm-token", "foreign-secret-value",
                 pipeline.webhook_secret, foreign_pipeline.webhook_secret],
        foreign_marks=[foreign.name, "elsewhere-pipeline", "elsewhere-secret"],
    )  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # {project} {pipeline} {execution} {member} {secret} {registry}
    least: str  # the least role that may: viewer, member, owner
    success: int
    body: Callable[[World], dict[str, Any]] | None = None
    prepare: Callable[[World], object] | None = None


def _new_name(w: World) -> str:
    return f"m-{w.project.pk}-new"


ENDPOINTS = [
    Endpoint("project retrieve", "get", "/api/v1/projects/{project}/", "viewer", 200),
    Endpoint("project patch", "patch", "/api/v1/projects/{project}/", "owner", 200, lambda w: {"display_name": "X"}),
    Endpoint("project put", "put", "/api/v1/projects/{project}/", "owner", 200,
             lambda w: {"name": w.project.name, "display_name": "Y"}),
    # A project with a queued or running execution answers 409 (tested elsewhere): end it first.
    Endpoint("project delete", "delete", "/api/v1/projects/{project}/", "owner", 204,
             prepare=lambda w: engine.abort(w.execution.pk, "matrix")),
    Endpoint("settings read", "get", "/api/v1/projects/{project}/settings/", "viewer", 200),
    Endpoint("settings patch", "patch", "/api/v1/projects/{project}/settings/", "owner", 200,
             lambda w: {"executor-quota": "3"}),
    Endpoint("members list", "get", "/api/v1/projects/{project}/members/", "viewer", 200),
    Endpoint("member add", "post", "/api/v1/projects/{project}/members/", "owner", 201,
             lambda w: {"username": w.users["outsider"].username, "role": "viewer"}),
    Endpoint("member retrieve", "get", "/api/v1/projects/{project}/members/{member}/", "viewer", 200),
    Endpoint("member patch", "patch", "/api/v1/projects/{project}/members/{member}/", "owner", 200,
             lambda w: {"role": "member"}),
    Endpoint("member remove", "delete", "/api/v1/projects/{project}/members/{member}/", "owner", 204),
    Endpoint("secrets list", "get", "/api/v1/projects/{project}/secrets/", "viewer", 200),
    Endpoint("secret create", "post", "/api/v1/projects/{project}/secrets/", "owner", 201,
             lambda w: {"name": "another", "data": {"A": "matrix-secret-value"}}),
    Endpoint("secret retrieve", "get", "/api/v1/projects/{project}/secrets/{secret}/", "viewer", 200),
    Endpoint("secret patch", "patch", "/api/v1/projects/{project}/secrets/{secret}/", "owner", 200,
             lambda w: {"data": {"B": "matrix-secret-value"}}),
    Endpoint("secret put", "put", "/api/v1/projects/{project}/secrets/{secret}/", "owner", 200,
             lambda w: {"name": "deploy", "data": {"C": "matrix-secret-value"}}),
    Endpoint("secret delete", "delete", "/api/v1/projects/{project}/secrets/{secret}/", "owner", 204),
    Endpoint("registries list", "get", "/api/v1/projects/{project}/registries/", "viewer", 200),
    Endpoint("registry create", "post", "/api/v1/projects/{project}/registries/", "owner", 201,
             lambda w: {"registry": "other.example.com", "username": "u", "password": "matrix-registry-password"}),
    Endpoint("registry retrieve", "get", "/api/v1/projects/{project}/registries/{registry}/", "viewer", 200),
    Endpoint("registry patch", "patch", "/api/v1/projects/{project}/registries/{registry}/", "owner", 200,
             lambda w: {"username": "bot2"}),
    Endpoint("registry put", "put", "/api/v1/projects/{project}/registries/{registry}/", "owner", 200,
             lambda w: {"registry": "registry.example.com", "username": "bot3",
                        "password": "matrix-registry-password"}),
    Endpoint("registry delete", "delete", "/api/v1/projects/{project}/registries/{registry}/", "owner", 204),
    Endpoint("pipeline create", "post", "/api/v1/pipelines/", "owner", 201,
             lambda w: {"project": w.project.pk, "name": "created", "repository_url": "https://git.example.com/a.git"}),
    Endpoint("pipeline retrieve", "get", "/api/v1/pipelines/{pipeline}/", "viewer", 200),
    Endpoint("pipeline patch", "patch", "/api/v1/pipelines/{pipeline}/", "owner", 200,
             lambda w: {"default_branch": "develop"}),
    Endpoint("pipeline put", "put", "/api/v1/pipelines/{pipeline}/", "owner", 200,
             lambda w: {"project": w.project.pk, "name": "matrix", "repository_url": w.pipeline.repository_url}),
    Endpoint("pipeline delete", "delete", "/api/v1/pipelines/{pipeline}/", "owner", 204),
    Endpoint("pipeline run", "post", "/api/v1/pipelines/{pipeline}/run/", "member", 201,
             lambda w: {"branch": "main", "config": PIPELINE_FILE}),
    Endpoint("pipeline rotate secret", "post", "/api/v1/pipelines/{pipeline}/rotate-secret/", "owner", 200),
    Endpoint("execution retrieve", "get", "/api/v1/executions/{execution}/", "viewer", 200),
    Endpoint("execution abort", "post", "/api/v1/executions/{execution}/abort/", "member", 202),
    Endpoint("execution rerun", "post", "/api/v1/executions/{execution}/rerun/", "member", 201),
    Endpoint("execution log", "get", "/api/v1/executions/{execution}/logs/{stage}/{step}/", "viewer", 200),
    Endpoint("validate a file", "post", "/api/v1/pipelines/validate/", "anyone", 200,
             lambda w: {"config": PIPELINE_FILE}),
    # Personal: a user's own SCM credentials and repositories; everyone else's do not exist for them.
    Endpoint("credential retrieve", "get", "/api/v1/credentials/{credential}/", "self", 200),
    Endpoint("credential delete", "delete", "/api/v1/credentials/{credential}/", "self", 204),
    Endpoint("repository retrieve", "get", "/api/v1/repositories/{repository}/", "self", 200),
    Endpoint("repositories refresh", "post", "/api/v1/repositories/refresh/", "self", 200,
             lambda w: {"credential": w.credential.pk}),
]  # fmt: skip
# Collections: everyone signed in may call them; they list only what the caller may see.
LISTS = ["/api/v1/projects/", "/api/v1/pipelines/", "/api/v1/executions/", "/api/v1/credentials/",
         "/api/v1/repositories/"]  # fmt: skip


def client_for(world: World, role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.users[role]).key}")
    return client


def expected_status(endpoint: Endpoint, role: str) -> int:
    if role == "anonymous":
        return 401
    if endpoint.least == "anyone":
        return endpoint.success
    if endpoint.least == "self":  # the credential is the owner's own; staff get no view of it either
        return endpoint.success if role == "owner" else (400 if endpoint.method == "post" else 404)
    if role == "outsider":
        return 404  # the project is foreign to them: not even its existence shows
    return endpoint.success if RANK[role] >= RANK[endpoint.least] else 403


def url_of(endpoint: Endpoint, w: World) -> str:
    return endpoint.path.format(
        project=w.project.pk, pipeline=w.pipeline.pk, execution=w.execution.pk, member=w.viewer_id,
        secret=w.secret.pk, registry=w.registry.pk, stage=0, step=0, credential=w.credential.pk,
        repository=w.repository.pk,
    )  # fmt: skip


def assert_clean(world: World, body: bytes, *, foreign_allowed: bool = False) -> None:
    text = body.decode(errors="replace")
    for secret in world.secrets:
        assert secret not in text, "a secret value appeared in a response"
    if not foreign_allowed:
        for mark in world.foreign_marks:
            assert mark not in text, f"the foreign project's {mark!r} appeared in a response"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_matrix(endpoint: Endpoint, role: str, world: World) -> None:
    client = client_for(world, role)
    if endpoint.prepare:
        endpoint.prepare(world)
    body = endpoint.body(world) if endpoint.body else None
    response = getattr(client, endpoint.method)(url_of(endpoint, world), body, format="json")
    assert response.status_code == expected_status(endpoint, role), response.content[:500]
    assert_clean(world, response.content, foreign_allowed=role == "staff")
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", LISTS)
def test_lists_show_only_visible_objects(path: str, role: str, world: World) -> None:
    response = client_for(world, role).get(path)
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    assert_clean(world, response.content, foreign_allowed=role in ("staff", "outsider"))
    if role == "outsider":  # the outsider's own project shows; this one does not
        assert f'"{world.project.name}"' not in response.content.decode()


def test_every_route_is_in_the_matrix() -> None:
    """Each (method, route) the router serves has a row above (or is a collection in LISTS)."""
    from devops.api.urls import router

    covered = {(e.method, re.sub(r"\{\w+\}", "X", e.path)) for e in ENDPOINTS}
    covered |= {("get", p) for p in LISTS}
    missing = []
    for prefix, viewset, _ in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if not hasattr(viewset, action) or method not in viewset.http_method_names:
                    continue
                url = route.url.replace("{prefix}", prefix).replace("{trailing_slash}", "/")
                url = re.sub(r"\{lookup\}|\(\?P<\w+>[^)]*\)", "X", url).strip("^$")
                url = re.sub(r"\(\?P<\w+>[^)]*\)", "X", url)
                path = "/api/v1/" + url
                if action in ("list", "create") and (method, path) not in covered and path in LISTS:
                    continue
                if (method, path) not in covered and not (method == "post" and path in LISTS):
                    missing.append(f"{method.upper()} {path} ({action})")
    assert not missing, "routes missing from the access matrix:\n" + "\n".join(missing)
