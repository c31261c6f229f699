"""``/api/v1/projects/{id}/secrets/`` and ``.../registries/``: values and passwords are write-only.

Every response body (successes and errors alike) is searched as raw bytes for every value written;
what is stored is read back from the database to show the writes did happen.
"""

from __future__ import annotations

import pytest
from projects_world import SECRET_VALUE, World, make_world

from devops.models import ProjectSecret, RegistryCredential

pytestmark = pytest.mark.django_db
VALUES = ("first-value-abc", "second-value-def", "replaced-value-ghi", "merged-value-jkl")
PASSWORDS = ("pw-one-xyz", "pw-two-uvw")


@pytest.fixture
def world(django_user_model) -> World:
    return make_world(django_user_model)


def secrets_url(world: World, pk: int | None = None) -> str:
    base = f"/api/v1/projects/{world.project.pk}/secrets/"
    return base if pk is None else f"{base}{pk}/"


def registries_url(world: World, pk: int | None = None) -> str:
    base = f"/api/v1/projects/{world.project.pk}/registries/"
    return base if pk is None else f"{base}{pk}/"


def assert_never_shown(world: World, *values: str) -> None:
    world.assert_nothing_leaked()
    for body in world.bodies:
        for value in values:
            assert value.encode() not in body, f"{value} in {body[:300]!r}"


# --- secrets --------------------------------------------------------------------------------------------
def test_secret_lifecycle_shows_keys_only(world: World) -> None:
    created = world.call(
        "owner", "post", secrets_url(world), {"name": "db", "data": {"USER": VALUES[0], "PASS": VALUES[1]}}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {"id": body["id"], "name": "db", "keys": ["PASS", "USER"]}
    pk = body["id"]
    assert ProjectSecret.objects.get(pk=pk).data == {"USER": VALUES[0], "PASS": VALUES[1]}
    # members and viewers read names and keys
    for role in ("member", "viewer"):
        listed = world.call(role, "get", secrets_url(world)).json()["results"]
        assert [(row["name"], row["keys"]) for row in listed] == [("db", ["PASS", "USER"]), ("deploy", ["TOKEN"])]
        assert world.call(role, "get", secrets_url(world, pk)).json()["keys"] == ["PASS", "USER"]
    # PATCH merges; null removes a key
    merged = world.call("owner", "patch", secrets_url(world, pk), {"data": {"HOST": VALUES[3], "USER": None}})
    assert merged.status_code == 200 and merged.json()["keys"] == ["HOST", "PASS"]
    assert ProjectSecret.objects.get(pk=pk).data == {"PASS": VALUES[1], "HOST": VALUES[3]}
    # PATCH of the name only keeps the values
    renamed = world.call("owner", "patch", secrets_url(world, pk), {"name": "database"})
    assert renamed.json()["name"] == "database" and ProjectSecret.objects.get(pk=pk).data["PASS"] == VALUES[1]
    # PUT replaces everything
    replaced = world.call("owner", "put", secrets_url(world, pk), {"name": "database", "data": {"ONLY": VALUES[2]}})
    assert replaced.status_code == 200 and replaced.json()["keys"] == ["ONLY"]
    assert ProjectSecret.objects.get(pk=pk).data == {"ONLY": VALUES[2]}
    assert world.call("owner", "get", secrets_url(world) + "?name=database").json()["count"] == 1
    assert world.call("owner", "delete", secrets_url(world, pk)).status_code == 204
    assert not ProjectSecret.objects.filter(pk=pk).exists()
    assert_never_shown(world, *VALUES)


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "Bad_Name", "data": {"K": "v"}}, "name", "DNS-1123"),
        ({"name": "x" * 201, "data": {"K": "v"}}, "name", "200"),
        ({"name": "ok", "data": {}}, "data", "at least one key"),
        ({"name": "ok", "data": {"K": None}}, "data", "only on PATCH"),
        ({"name": "ok", "data": {"BAD KEY": "v"}}, "data.BAD KEY", "letters, digits"),
        ({"name": "ok", "data": {"K": 5}}, None, None),
        ({"name": "ok", "data": {"K": ["v"]}}, "data.K", "valid string"),
        ({"name": "ok", "data": "K=v"}, "data", "dictionary"),
        ({"name": "ok"}, "data", "required"),
        ({"data": {"K": "v"}}, "name", "required"),
        ({"name": "ok", "data": {"K": "v" * (64 * 1024 + 1)}}, "data.K", "65536"),
        ({"name": "ok", "data": {f"K{i}": "v" for i in range(201)}}, "data", "at most 200 keys"),
        ({"name": "ok", "data": {f"K{i}": "v" * 60000 for i in range(20)}}, "data", "1 MiB"),
        ({"name": "ok", "data": {"K": "a\x00b"}}, "data.K", "Null characters"),
    ],
)
def test_secret_validation(world: World, payload: dict, field: str | None, message: str | None) -> None:
    response = world.call("owner", "post", secrets_url(world), payload)
    if field is None:  # a number is accepted as its text
        assert response.status_code == 201 and ProjectSecret.objects.get(name="ok").data == {"K": "5"}
        return
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert message in " ".join(errors[field]), errors
    assert not ProjectSecret.objects.filter(name="ok").exists()


def test_secret_name_clashes_are_400(world: World) -> None:
    clash = world.call("owner", "post", secrets_url(world), {"name": "deploy", "data": {"K": VALUES[0]}})
    assert clash.status_code == 400
    assert clash.json()["errors"] == {"name": ["a secret named 'deploy' already exists in this project"]}
    other = world.call("owner", "post", secrets_url(world), {"name": "other", "data": {"K": VALUES[0]}}).json()
    rename = world.call("owner", "patch", secrets_url(world, other["id"]), {"name": "deploy"})
    assert rename.status_code == 400 and "already exists" in rename.json()["detail"]
    # the same name in another project is fine (the foreign project has one called deploy too)
    assert ProjectSecret.objects.filter(name="deploy").count() == 2
    assert_never_shown(world, VALUES[0])


def test_secret_patch_cannot_empty_it(world: World) -> None:
    response = world.call("owner", "patch", secrets_url(world, world.secret.pk), {"data": {"TOKEN": None}})
    assert response.status_code == 400 and "at least one key" in response.json()["detail"]
    assert ProjectSecret.objects.get(pk=world.secret.pk).data == {"TOKEN": SECRET_VALUE}


def test_secret_errors_do_not_echo_values(world: World) -> None:
    """A refused write must not quote the value back (it may be a real secret)."""
    long_value = "leak-me-" + "x" * (64 * 1024)
    world.call("owner", "post", secrets_url(world), {"name": "deploy", "data": {"K": "leak-me-too"}})
    world.call("owner", "post", secrets_url(world), {"name": "big", "data": {"K": long_value}})
    world.call("member", "post", secrets_url(world), {"name": "nope", "data": {"K": "leak-me-three"}})
    world.call("outsider", "patch", secrets_url(world, world.secret.pk), {"data": {"K": "leak-me-four"}})
    assert_never_shown(world, "leak-me")


# --- registry credentials -------------------------------------------------------------------------------
def test_registry_lifecycle_never_shows_the_password(world: World) -> None:
    created = world.call(
        "owner", "post", registries_url(world), {"registry": "Quay.IO", "username": "bot", "password": PASSWORDS[0]}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {"id": body["id"], "registry": "quay.io", "username": "bot"}
    pk = body["id"]
    assert RegistryCredential.objects.get(pk=pk).password == PASSWORDS[0]
    listed = world.call("viewer", "get", registries_url(world)).json()["results"]
    assert [row["registry"] for row in listed] == ["quay.io", "registry.example.com:5000"]
    # an update without a password keeps it
    kept = world.call("owner", "put", registries_url(world, pk), {"registry": "quay.io:443", "username": "bot2"})
    assert kept.status_code == 200 and kept.json() == {"id": pk, "registry": "quay.io:443", "username": "bot2"}
    assert RegistryCredential.objects.get(pk=pk).password == PASSWORDS[0]
    changed = world.call("owner", "patch", registries_url(world, pk), {"password": PASSWORDS[1]})
    assert changed.status_code == 200
    assert RegistryCredential.objects.get(pk=pk).password == PASSWORDS[1]
    assert world.call("owner", "get", registries_url(world) + "?registry=quay.io:443").json()["count"] == 1
    assert world.call("owner", "delete", registries_url(world, pk)).status_code == 204
    assert not RegistryCredential.objects.filter(pk=pk).exists()
    assert_never_shown(world, *PASSWORDS)


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"registry": "https://quay.io", "username": "u", "password": "p"}, "registry", "host[:port]"),
        ({"registry": "quay.io/team", "username": "u", "password": "p"}, "registry", "host[:port]"),
        ({"registry": "quay.io:99999", "username": "u", "password": "p"}, "registry", "host[:port]"),
        ({"registry": "quay.io:0", "username": "u", "password": "p"}, "registry", "host[:port]"),
        ({"registry": "-bad.io", "username": "u", "password": "p"}, "registry", "host[:port]"),
        ({"registry": "a" * 254, "username": "u", "password": "p"}, "registry", "253"),
        ({"registry": "quay.io", "username": "u"}, "password", "required"),
        ({"registry": "quay.io", "username": "u", "password": ""}, "password", "blank"),
        ({"registry": "quay.io", "password": "p"}, "username", "required"),
        ({"registry": "quay.io", "username": "u" * 201, "password": "p"}, "username", "200"),
        ({"registry": "registry.example.com:5000", "username": "u", "password": "p"}, "registry", "already has"),
    ],
)
def test_registry_validation(world: World, payload: dict, field: str, message: str) -> None:
    response = world.call("owner", "post", registries_url(world), payload)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert message in " ".join(errors[field]), errors
    assert RegistryCredential.objects.filter(project=world.project).count() == 1


def test_registry_rename_clash_and_ip_hosts(world: World) -> None:
    ip = world.call(
        "owner", "post", registries_url(world), {"registry": "10.0.0.5:5000", "username": "u", "password": PASSWORDS[0]}
    )
    assert ip.status_code == 201
    clash = world.call(
        "owner", "patch", registries_url(world, ip.json()["id"]), {"registry": "registry.example.com:5000"}
    )
    assert clash.status_code == 400 and "already has" in clash.json()["detail"]
    assert RegistryCredential.objects.get(pk=ip.json()["id"]).registry == "10.0.0.5:5000"
    assert_never_shown(world, *PASSWORDS)
