"""``/api/v1/projects/{id}/settings/``: every key with value, default and help; PATCH all or nothing
with each bad key named (quota, quantities, request <= limit, unknown keys); a default removes the row."""

from __future__ import annotations

import json

import pytest
from projects_world import World, make_world

from devops.models import PipelineSetting
from devops.project_settings import SETTINGS
from devops.selectors import project_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_user_model) -> World:
    return make_world(django_user_model)


def url(world: World) -> str:
    return f"/api/v1/projects/{world.project.pk}/settings/"


def stored(world: World) -> dict[str, str]:
    return dict(PipelineSetting.objects.filter(project=world.project).values_list("key", "value"))


def test_get_lists_every_key_with_value_default_and_help(world: World) -> None:
    PipelineSetting.objects.create(project=world.project, key="executor-quota", value="7")
    response = world.call("viewer", "get", url(world))
    assert response.status_code == 200
    rows = {row["key"]: row for row in response.json()}
    assert list(rows) == list(SETTINGS)
    assert rows["executor-quota"] == {
        "key": "executor-quota",
        "value": "7",
        "default": "2",
        "is_default": False,
        "help": SETTINGS["executor-quota"].help,
    }
    assert rows["executor-cpu-limit"]["value"] == rows["executor-cpu-limit"]["default"] == "1"
    assert rows["executor-cpu-limit"]["is_default"] is True
    assert all(row["help"] for row in rows.values())


def test_patch_sets_several_keys_and_answers_with_the_new_values(world: World) -> None:
    changes = {"executor-quota": "0", "executor-cpu-limit": "2", "executor-memory-request": "512Mi", "serverless": "on"}
    response = world.call("owner", "patch", url(world), changes)
    assert response.status_code == 200, response.content
    rows = {row["key"]: row for row in response.json()}
    for key, value in changes.items():
        assert rows[key]["value"] == value and rows[key]["is_default"] is False
    assert stored(world) == changes
    assert project_settings(world.project)["executor-cpu-limit"] == "2"


def test_the_default_value_or_null_removes_the_row(world: World) -> None:
    world.call("owner", "patch", url(world), {"executor-quota": "9", "cache-node-count": "3"})
    response = world.call("owner", "patch", url(world), {"executor-quota": "2", "cache-node-count": None})
    assert response.status_code == 200
    assert stored(world) == {}
    rows = {row["key"]: row for row in response.json()}
    assert rows["executor-quota"]["is_default"] and rows["cache-node-count"]["value"] == "10"


def test_empty_patch_changes_nothing(world: World) -> None:
    assert world.call("owner", "patch", url(world), {}).status_code == 200
    assert stored(world) == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("executor-quota", "-1", "non-negative integer"),
        ("executor-quota", "abc", "non-negative integer"),
        ("executor-quota", "1.5", "non-negative integer"),
        ("executor-quota", "²", "non-negative integer"),
        ("executor-quota", "", "non-negative integer"),
        ("executor-quota", "9" * 30, "non-negative integer"),
        ("executor-cpu-request", "2 cores", "Kubernetes quantity"),
        ("executor-cpu-limit", "-1", "Kubernetes quantity"),
        ("executor-memory-limit", "1GB", "Kubernetes quantity"),
        ("executor-memory-request", "1Gi\n1", "Kubernetes quantity"),
        ("executor-memory-request", "2Gi", "more than executor-memory-limit 1Gi"),
        ("executor-cpu-request", "1500m", "more than executor-cpu-limit 1"),
        ("serverless", "maybe", "on or off"),
        ("cache-root", "relative/path", "absolute path"),
        ("image-git", "Not An Image", "image reference"),
        ("mirrors", "EVIL=http://x", "NAME=URL"),
        ("executor-quota", "1" * 1001, "1000"),
        ("executor-quota", ["1"], "valid string"),
        ("executor-quota", True, "valid string"),
        ("executor-quota", {"a": 1}, "valid string"),
        ("executor-quota", "1\x00", "Null characters"),
    ],
)
def test_bad_values_are_400_naming_the_key(world: World, key: str, value: object, message: str) -> None:
    response = world.call("owner", "patch", url(world), {key: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == [key]
    assert message in body["errors"][key][0], body
    assert key in body["detail"]
    assert stored(world) == {}


def test_lowering_a_limit_below_the_stored_request_is_named_on_the_limit(world: World) -> None:
    assert world.call("owner", "patch", url(world), {"executor-memory-request": "512Mi"}).status_code == 200
    response = world.call("owner", "patch", url(world), {"executor-memory-limit": "256Mi"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "executor-memory-limit": [
            "executor-memory-request 512Mi is more than executor-memory-limit 256Mi; "
            "Kubernetes rejects a request above its limit"
        ]
    }
    # both sides at once are checked against each other, not against the stored values
    both = world.call(
        "owner", "patch", url(world), {"executor-memory-limit": "256Mi", "executor-memory-request": "64Mi"}
    )
    assert both.status_code == 200
    assert stored(world) == {"executor-memory-limit": "256Mi", "executor-memory-request": "64Mi"}


def test_request_above_a_raised_limit_in_the_same_patch_is_fine(world: World) -> None:
    response = world.call("owner", "patch", url(world), {"executor-cpu-request": "4", "executor-cpu-limit": "8"})
    assert response.status_code == 200
    assert world.call("owner", "patch", url(world), {"executor-cpu-request": "4", "executor-cpu-limit": "3"}).json()[
        "errors"
    ] == {
        "executor-cpu-request": [
            "executor-cpu-request 4 is more than executor-cpu-limit 3; Kubernetes rejects a request above its limit"
        ]
    }


def test_all_or_nothing_and_every_bad_key_named(world: World) -> None:
    response = world.call(
        "owner",
        "patch",
        url(world),
        {
            "executor-quota": "-1",
            "executor-cpu-request": "2 cores",
            "executor-memory-limit": "2Gi",
            "no-such-key": "1",
            "serverless": "on",
        },
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"executor-quota", "executor-cpu-request", "no-such-key"}
    assert "unknown setting" in errors["no-such-key"][0] and "executor-quota" in errors["no-such-key"][0]
    assert "(and 2 more)" in response.json()["detail"]
    assert stored(world) == {}, "the valid keys are not applied either"


@pytest.mark.parametrize("body", [["executor-quota", "3"], "executor-quota=3", 3, None])
def test_a_body_that_is_not_an_object_is_400(world: World, body: object) -> None:
    response = world.clients["owner"].patch(url(world), json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


def test_malformed_json_is_400(world: World) -> None:
    response = world.clients["owner"].patch(url(world), "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


def test_unknown_key_alone(world: World) -> None:
    response = world.call("owner", "patch", url(world), {"executor-qouta": "3"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["executor-qouta"]
