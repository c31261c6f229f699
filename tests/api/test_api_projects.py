"""``/api/v1/projects/`` and everything under it: the access matrix (every endpoint x every role x own
and foreign project), projects CRUD, filters and pagination, token auth.

Members, settings, secrets and registries have their own files (test_api_projects_*.py); the matrix
here covers their access, and every body it sees is searched for secret values and foreign objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from projects_world import PASSWORD, ROLES, SECRET_VALUE, World, make_world
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from devops.models import PipelineSetting, Project, ProjectMember, ProjectSecret, RegistryCredential

pytestmark = pytest.mark.django_db
VIEWER, MEMBER, OWNER = 1, 2, 3
HAVE = {
    "own": {"owner": OWNER, "member": MEMBER, "viewer": VIEWER, "staff": OWNER},
    "foreign": {"outsider": OWNER, "staff": OWNER},
}


@pytest.fixture
def world(django_user_model) -> World:
    return make_world(django_user_model)


@dataclass
class Target:
    """The objects an endpoint addresses in the project under test (own or foreign)."""

    project: Project
    secret: ProjectSecret
    registry: RegistryCredential
    member_user_id: int
    newcomer: Any


@dataclass
class Endpoint:
    method: str
    url: Callable[[Target], str]
    needed: int
    ok: int
    data: Callable[[Target], Any] | None = None


def p(t: Target) -> str:
    return f"/api/v1/projects/{t.project.pk}/"


ENDPOINTS = {
    "project-get": Endpoint("get", p, VIEWER, 200),
    "project-patch": Endpoint("patch", p, OWNER, 200, lambda t: {"display_name": "Renamed"}),
    "project-put": Endpoint("put", p, OWNER, 200, lambda t: {"name": t.project.name, "display_name": "Put"}),
    "project-delete": Endpoint("delete", p, OWNER, 204),
    "settings-get": Endpoint("get", lambda t: p(t) + "settings/", VIEWER, 200),
    "settings-patch": Endpoint("patch", lambda t: p(t) + "settings/", OWNER, 200, lambda t: {"executor-quota": "5"}),
    "members-list": Endpoint("get", lambda t: p(t) + "members/", VIEWER, 200),
    "members-add": Endpoint(
        "post", lambda t: p(t) + "members/", OWNER, 201, lambda t: {"username": t.newcomer.username, "role": "viewer"}
    ),
    "member-get": Endpoint("get", lambda t: p(t) + f"members/{t.member_user_id}/", VIEWER, 200),
    "member-patch": Endpoint(
        "patch", lambda t: p(t) + f"members/{t.member_user_id}/", OWNER, 200, lambda t: {"role": "member"}
    ),
    "member-delete": Endpoint("delete", lambda t: p(t) + f"members/{t.member_user_id}/", OWNER, 204),
    "secrets-list": Endpoint("get", lambda t: p(t) + "secrets/", VIEWER, 200),
    "secrets-add": Endpoint(
        "post", lambda t: p(t) + "secrets/", OWNER, 201, lambda t: {"name": "new", "data": {"K": SECRET_VALUE}}
    ),
    "secret-get": Endpoint("get", lambda t: p(t) + f"secrets/{t.secret.pk}/", VIEWER, 200),
    "secret-put": Endpoint(
        "put", lambda t: p(t) + f"secrets/{t.secret.pk}/", OWNER, 200, lambda t: {"name": "x", "data": {"A": "b"}}
    ),
    "secret-patch": Endpoint(
        "patch", lambda t: p(t) + f"secrets/{t.secret.pk}/", OWNER, 200, lambda t: {"data": {"NEW": SECRET_VALUE}}
    ),
    "secret-delete": Endpoint("delete", lambda t: p(t) + f"secrets/{t.secret.pk}/", OWNER, 204),
    "registries-list": Endpoint("get", lambda t: p(t) + "registries/", VIEWER, 200),
    "registries-add": Endpoint(
        "post",
        lambda t: p(t) + "registries/",
        OWNER,
        201,
        lambda t: {"registry": "new.example.com", "username": "u", "password": PASSWORD},
    ),
    "registry-get": Endpoint("get", lambda t: p(t) + f"registries/{t.registry.pk}/", VIEWER, 200),
    "registry-put": Endpoint(
        "put",
        lambda t: p(t) + f"registries/{t.registry.pk}/",
        OWNER,
        200,
        lambda t: {"registry": "other.example.com", "username": "u2", "password": PASSWORD},
    ),
    "registry-patch": Endpoint(
        "patch", lambda t: p(t) + f"registries/{t.registry.pk}/", OWNER, 200, lambda t: {"password": PASSWORD}
    ),
    "registry-delete": Endpoint("delete", lambda t: p(t) + f"registries/{t.registry.pk}/", OWNER, 204),
}


def target(world: World, which: str, django_user_model: Any) -> Target:
    newcomer = django_user_model.objects.create_user(f"new-{which}-{world.project.name}")
    if which == "own":
        return Target(world.project, world.secret, world.registry, world.users["viewer"].pk, newcomer)
    return Target(world.foreign, world.foreign_secret, world.foreign_registry, world.users["guest"].pk, newcomer)


@pytest.mark.parametrize("which", ["own", "foreign"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_access_matrix(world: World, django_user_model, name: str, role: str, which: str) -> None:
    endpoint = ENDPOINTS[name]
    t = target(world, which, django_user_model)
    have = HAVE[which].get(role)
    expected = 404 if have is None else 403 if have < endpoint.needed else endpoint.ok
    data = endpoint.data(t) if endpoint.data else None
    response = world.call(role, endpoint.method, endpoint.url(t), data)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["detail"], "every 4xx says what was wrong"
    if which == "own" or expected == 404:
        for mark in world.foreign_marks():
            assert mark not in response.content, f"foreign {mark!r} in {name} for {role}"
    world.assert_nothing_leaked()


def test_refused_writes_change_nothing(world: World, django_user_model) -> None:
    """A 403 or 404 write leaves the rows as they were."""
    for which, roles in (("own", ["member", "viewer"]), ("foreign", ["owner", "member", "viewer"])):
        t = target(world, which, django_user_model)
        for role in roles:
            for name, endpoint in ENDPOINTS.items():
                if endpoint.method == "get":
                    continue
                data = endpoint.data(t) if endpoint.data else None
                assert world.call(role, endpoint.method, endpoint.url(t), data).status_code in (403, 404), name
    assert Project.objects.get(pk=world.project.pk).display_name == "The project"
    assert Project.objects.get(pk=world.foreign.pk).display_name == "Someone else's"
    assert not PipelineSetting.objects.exists()
    assert ProjectSecret.objects.get(pk=world.secret.pk).data == {"TOKEN": SECRET_VALUE}
    assert ProjectSecret.objects.count() == 2 and RegistryCredential.objects.count() == 2
    assert ProjectMember.objects.filter(project=world.project).count() == 3
    world.assert_nothing_leaked()


# --- projects -----------------------------------------------------------------------------------------------
def test_list_shows_visible_projects_with_my_role(world: World) -> None:
    for role, names in (
        ("owner", [world.project.name]),
        ("viewer", [world.project.name]),
        ("outsider", [world.foreign.name]),
        ("staff", sorted([world.project.name, world.foreign.name])),
    ):
        body = world.call(role, "get", "/api/v1/projects/").json()
        assert [r["name"] for r in body["results"]] == names, role
        assert body["count"] == len(names)
    rows = world.call("viewer", "get", "/api/v1/projects/").json()["results"]
    assert rows[0]["my_role"] == "viewer"
    assert set(rows[0]) == {"id", "name", "display_name", "created_at", "my_role", "namespaces"}
    staff_rows = world.call("staff", "get", "/api/v1/projects/").json()["results"]
    assert {r["my_role"] for r in staff_rows} == {"staff"}


def test_list_paginates_filters_and_orders(world: World) -> None:
    owner = world.users["owner"]
    for name in ("b-extra", "a-extra", "c-extra"):
        ProjectMember.objects.create(
            project=Project.objects.create(name=f"{name}-{owner.pk}"), user=owner, role="owner"
        )
    page = world.call("owner", "get", "/api/v1/projects/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"] and page["previous"] is None
    assert [r["name"] for r in page["results"]] == [f"a-extra-{owner.pk}", f"b-extra-{owner.pk}"]
    second = world.call("owner", "get", "/api/v1/projects/?page_size=2&page=2").json()
    assert len(second["results"]) == 2 and second["next"] is None
    by_name = world.call("owner", "get", f"/api/v1/projects/?name={world.project.name}").json()
    assert [r["id"] for r in by_name["results"]] == [world.project.pk]
    assert world.call("owner", "get", f"/api/v1/projects/?name={world.foreign.name}").json()["count"] == 0
    newest = world.call("owner", "get", "/api/v1/projects/?ordering=-created_at").json()["results"]
    assert newest[0]["name"] == f"c-extra-{owner.pk}"
    descending = world.call("owner", "get", "/api/v1/projects/?ordering=-name").json()["results"]
    assert descending[0]["name"] == world.project.name
    assert world.call("owner", "get", "/api/v1/projects/?page=99").status_code == 404


def test_any_user_creates_a_project_and_owns_it(world: World) -> None:
    response = world.call("outsider", "post", "/api/v1/projects/", {"name": "brand-new", "display_name": "New"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "brand-new" and body["my_role"] == "owner" and body["namespaces"] == []
    member = ProjectMember.objects.get(project_id=body["id"])
    assert member.user == world.users["outsider"] and member.role == "owner"
    assert world.call("outsider", "get", f"/api/v1/projects/{body['id']}/").status_code == 200
    assert world.call("owner", "get", f"/api/v1/projects/{body['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "Bad_Name"}, "name", "DNS-1123"),
        ({"name": "-x"}, "name", "DNS-1123"),
        ({"name": "x" * 51}, "name", "50"),
        ({}, "name", "required"),
        ({"name": 5.5}, "name", "DNS-1123"),
        ({"name": "ok", "display_name": "d" * 201}, "display_name", "200"),
        ({"name": "ok", "namespaces": "prod"}, "namespaces", "list"),
        ({"name": "ok", "namespaces": [None]}, "namespaces.0", "null"),
    ],
)
def test_create_validation(world: World, payload: dict, field: str, message: str) -> None:
    response = world.call("owner", "post", "/api/v1/projects/", payload)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert message in " ".join(errors[field]), errors


def test_name_clash_is_a_400_naming_the_field(world: World) -> None:
    response = world.call("owner", "post", "/api/v1/projects/", {"name": world.foreign.name})
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": [f"a project named '{world.foreign.name}' already exists"]}
    assert Project.objects.count() == 2


def test_name_clash_in_a_race_is_a_validation_error() -> None:
    """The unique constraint is the judge: create_project turns its IntegrityError into a field error
    (what a concurrent request that lost the race gets), and leaves no orphan member row."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    from devops import services

    user = get_user_model().objects.create_user("racer")
    services.create_project(owner=user, name="raced")
    with pytest.raises(ValidationError) as caught:
        services.create_project(owner=user, name="raced")
    assert caught.value.message_dict == {"name": ["a project named 'raced' already exists"]}
    assert ProjectMember.objects.filter(user=user).count() == 1


def test_update_display_name_and_the_fixed_name(world: World) -> None:
    url = f"/api/v1/projects/{world.project.pk}/"
    response = world.call("owner", "patch", url, {"display_name": "Better"})
    assert response.status_code == 200 and response.json()["display_name"] == "Better"
    assert response.json()["my_role"] == "owner"
    renamed = world.call("owner", "patch", url, {"name": "other-name"})
    assert renamed.status_code == 400
    assert "cannot change" in renamed.json()["errors"]["name"][0]
    same = world.call("owner", "put", url, {"name": world.project.name, "display_name": "Put"})
    assert same.status_code == 200 and same.json()["display_name"] == "Put"
    assert world.call("owner", "put", url, {"display_name": "no name"}).status_code == 400


def test_namespaces_are_set_by_staff_only_and_validated(world: World) -> None:
    url = f"/api/v1/projects/{world.project.pk}/"
    refused = world.call("owner", "patch", url, {"namespaces": ["team-a"]})
    assert refused.status_code == 403 and "staff" in refused.json()["detail"]
    assert world.call("owner", "post", "/api/v1/projects/", {"name": "n1", "namespaces": ["x"]}).status_code == 403
    assert world.call("owner", "post", "/api/v1/projects/", {"name": "n2", "namespaces": []}).status_code == 201
    ok = world.call("staff", "patch", url, {"namespaces": ["team-a", "team-b"]})
    assert ok.status_code == 200 and ok.json()["namespaces"] == ["team-a", "team-b"]
    # an owner may send them back unchanged (a PUT of what they read)
    assert (
        world.call("owner", "put", url, {"name": world.project.name, "namespaces": ["team-a", "team-b"]}).status_code
        == 200
    )
    for bad, message in (
        (["Team_A"], "DNS-1123"),
        (["a" * 64], "63"),
        (["kube-system"], "system namespace"),
        (["default"], "system namespace"),
        (["other-pipeline"], "-pipeline"),
        (["x", "x"], "twice"),
    ):
        response = world.call("staff", "patch", url, {"namespaces": bad})
        assert response.status_code == 400, bad
        assert message in str(response.json()["errors"]), (bad, response.json())
    foreign_url = f"/api/v1/projects/{world.foreign.pk}/"
    clash = world.call("staff", "patch", foreign_url, {"namespaces": ["team-a"]})
    assert clash.status_code == 400 and "another project" in clash.json()["detail"]
    assert Project.objects.get(pk=world.project.pk).namespaces == ["team-a", "team-b"]


def test_delete_cascades_and_is_refused_while_executions_run(world: World, make_repo, make_pipeline, trigger) -> None:
    pipeline = make_pipeline(
        make_repo("stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n")
    )
    ProjectMember.objects.create(project=pipeline.project, user=world.users["owner"], role="owner")
    execution = trigger(pipeline, branch="main")  # stays queued: no worker in this test
    url = f"/api/v1/projects/{pipeline.project_id}/"
    refused = world.call("owner", "delete", url)
    assert refused.status_code == 409 and "abort" in refused.json()["detail"]
    type(execution).objects.filter(pk=execution.pk).update(state="Aborted")
    assert world.call("owner", "delete", url).status_code == 204
    assert not Project.objects.filter(pk=pipeline.project_id).exists()
    assert world.call("owner", "delete", f"/api/v1/projects/{world.project.pk}/").status_code == 204
    assert not ProjectSecret.objects.filter(pk=world.secret.pk).exists()


@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "99999999999999999999999", "9223372036854775808", "1.5"])
def test_ids_that_cannot_exist_are_404_json(world: World, bad_id: str) -> None:
    for url in (
        f"/api/v1/projects/{bad_id}/",
        f"/api/v1/projects/{bad_id}/settings/",
        f"/api/v1/projects/{bad_id}/members/",
        f"/api/v1/projects/{bad_id}/secrets/",
        f"/api/v1/projects/{world.project.pk}/secrets/{bad_id}/",
        f"/api/v1/projects/{world.project.pk}/registries/{bad_id}/",
        f"/api/v1/projects/{world.project.pk}/members/{bad_id}/",
    ):
        response = world.call("staff", "get", url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json" and response.json()["detail"], url


def test_objects_of_another_project_are_404_through_this_one(world: World) -> None:
    """An id of the foreign project's secret under the own project's path is not found."""
    base = f"/api/v1/projects/{world.project.pk}"
    assert world.call("owner", "get", f"{base}/secrets/{world.foreign_secret.pk}/").status_code == 404
    assert world.call("owner", "delete", f"{base}/registries/{world.foreign_registry.pk}/").status_code == 404
    assert world.call("owner", "get", f"{base}/members/{world.users['guest'].pk}/").status_code == 404
    assert RegistryCredential.objects.filter(pk=world.foreign_registry.pk).exists()


# --- authentication -------------------------------------------------------------------------------------
def test_token_auth(world: World) -> None:
    token = Token.objects.create(user=world.users["viewer"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/v1/projects/")
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == [world.project.name]
    assert client.get(f"/api/v1/projects/{world.project.pk}/secrets/").status_code == 200
    assert (
        client.patch(f"/api/v1/projects/{world.project.pk}/", {"display_name": "x"}, format="json").status_code == 403
    )
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    wrong = client.get("/api/v1/projects/")
    assert wrong.status_code in (401, 403) and "token" in wrong.json()["detail"].lower()
    anonymous = APIClient().get(f"/api/v1/projects/{world.project.pk}/members/")
    assert anonymous.status_code in (401, 403) and anonymous.json()["detail"]
    assert token.key.encode() not in response.content


def test_every_list_is_paginated(world: World) -> None:
    base = f"/api/v1/projects/{world.project.pk}"
    for url in ("/api/v1/projects/", f"{base}/members/", f"{base}/secrets/", f"{base}/registries/"):
        body = world.call("viewer", "get", f"{url}?page_size=1").json()
        assert set(body) == {"count", "next", "previous", "results"}, url
        assert len(body["results"]) == 1, url
    world.assert_nothing_leaked()
