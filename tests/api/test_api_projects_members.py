"""``/api/v1/projects/{id}/members/``: list, add by username or id, change role, remove; the last
owner can be neither removed nor demoted, and a role change takes effect on the next request."""

from __future__ import annotations

import pytest
from projects_world import World, make_world

from devops.models import ProjectMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_user_model) -> World:
    return make_world(django_user_model)


def members_url(world: World, user_id: int | None = None) -> str:
    base = f"/api/v1/projects/{world.project.pk}/members/"
    return base if user_id is None else f"{base}{user_id}/"


def test_list_shows_user_id_username_and_role(world: World) -> None:
    body = world.call("viewer", "get", members_url(world)).json()
    assert body["count"] == 3
    by_role = {row["role"]: row for row in body["results"]}
    assert by_role["owner"] == {
        "user": world.users["owner"].pk,
        "username": world.users["owner"].username,
        "role": "owner",
    }
    assert set(by_role) == {"owner", "member", "viewer"}
    only_viewers = world.call("viewer", "get", members_url(world) + "?role=viewer").json()["results"]
    assert [row["user"] for row in only_viewers] == [world.users["viewer"].pk]
    one = world.call("member", "get", members_url(world, world.users["viewer"].pk))
    assert one.status_code == 200 and one.json()["role"] == "viewer"


def test_add_by_username_and_by_id(world: World, django_user_model) -> None:
    alice = django_user_model.objects.create_user("alice-m")
    bob = django_user_model.objects.create_user("bob-m")
    response = world.call("owner", "post", members_url(world), {"username": "alice-m", "role": "member"})
    assert response.status_code == 201, response.content
    assert response.json() == {"user": alice.pk, "username": "alice-m", "role": "member"}
    response = world.call("owner", "post", members_url(world), {"user": bob.pk})
    assert response.status_code == 201 and response.json()["role"] == "member", "member is the default role"
    both = world.call(
        "staff",
        "post",
        members_url(world),
        {"user": world.users["outsider"].pk, "username": world.users["outsider"].username, "role": "viewer"},
    )
    assert both.status_code == 201
    assert ProjectMember.objects.filter(project=world.project).count() == 6
    # the new member sees the project at once
    assert world.call("outsider", "get", f"/api/v1/projects/{world.project.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"username": "nobody-here"}, "username", "no active user named"),
        ({"user": 987654321}, "user", "no active user with id"),
        ({"user": 0}, "user", "greater than or equal to 1"),
        ({"user": "abc"}, "user", "valid integer"),
        ({"user": 10**30}, "user", "less than or equal to"),
        ({}, "username", "send the username or the user id"),
        ({"username": "x", "role": "admin"}, "role", "not a valid choice"),
        ({"username": ["x"]}, "username", "valid string"),
    ],
)
def test_add_validation(world: World, payload: dict, field: str, message: str) -> None:
    response = world.call("owner", "post", members_url(world), payload)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["errors"][field]), response.json()


def test_add_mismatched_id_and_name_inactive_user_and_existing_member(world: World, django_user_model) -> None:
    carol = django_user_model.objects.create_user("carol-m")
    mismatch = world.call("owner", "post", members_url(world), {"user": carol.pk, "username": "someone-else"})
    assert mismatch.status_code == 400 and "does not match" in mismatch.json()["errors"]["username"][0]
    django_user_model.objects.create_user("dormant-m", is_active=False)
    assert world.call("owner", "post", members_url(world), {"username": "dormant-m"}).status_code == 400
    again = world.call("owner", "post", members_url(world), {"username": world.users["viewer"].username})
    assert again.status_code == 400
    assert "already a member" in again.json()["errors"]["user"][0]
    assert ProjectMember.objects.get(project=world.project, user=world.users["viewer"]).role == "viewer"


def test_change_role_takes_effect(world: World) -> None:
    viewer = world.users["viewer"]
    assert (
        world.call("viewer", "patch", f"/api/v1/projects/{world.project.pk}/", {"display_name": "x"}).status_code == 403
    )
    response = world.call("owner", "patch", members_url(world, viewer.pk), {"role": "owner"})
    assert response.status_code == 200 and response.json()["role"] == "owner"
    assert (
        world.call("viewer", "patch", f"/api/v1/projects/{world.project.pk}/", {"display_name": "x"}).status_code == 200
    )
    bad = world.call("owner", "patch", members_url(world, viewer.pk), {"role": "god"})
    assert bad.status_code == 400 and "role" in bad.json()["errors"]
    assert world.call("owner", "patch", members_url(world, viewer.pk), {}).status_code == 400


def test_last_owner_cannot_be_demoted_or_removed(world: World) -> None:
    owner = world.users["owner"]
    demote = world.call("owner", "patch", members_url(world, owner.pk), {"role": "member"})
    assert demote.status_code == 400
    assert "at least one owner" in demote.json()["errors"]["role"][0]
    remove = world.call("staff", "delete", members_url(world, owner.pk))
    assert remove.status_code == 400 and "at least one owner" in remove.json()["detail"]
    assert ProjectMember.objects.get(project=world.project, user=owner).role == "owner"
    # with a second owner both work, and an owner may leave
    world.call("owner", "patch", members_url(world, world.users["member"].pk), {"role": "owner"})
    assert world.call("owner", "patch", members_url(world, owner.pk), {"role": "viewer"}).status_code == 200
    assert ProjectMember.objects.get(project=world.project, user=owner).role == "viewer"
    assert world.call("member", "delete", members_url(world, owner.pk)).status_code == 204
    assert world.call("owner", "get", f"/api/v1/projects/{world.project.pk}/").status_code == 404
    last = world.call("member", "delete", members_url(world, world.users["member"].pk))
    assert last.status_code == 400


def test_owner_demoting_themselves_keeps_the_other_owner(world: World) -> None:
    world.call("owner", "patch", members_url(world, world.users["member"].pk), {"role": "owner"})
    response = world.call("owner", "patch", members_url(world, world.users["owner"].pk), {"role": "member"})
    assert response.status_code == 200 and response.json()["role"] == "member"
    assert list(ProjectMember.objects.filter(project=world.project, role="owner").values_list("user", flat=True)) == [
        world.users["member"].pk
    ]


def test_remove_member_and_unknown_member(world: World) -> None:
    viewer = world.users["viewer"]
    assert world.call("owner", "delete", members_url(world, viewer.pk)).status_code == 204
    assert world.call("viewer", "get", members_url(world)).status_code == 404
    gone = world.call("owner", "delete", members_url(world, viewer.pk))
    assert gone.status_code == 404 and gone.json()["detail"]
    assert world.call("owner", "get", members_url(world, world.users["outsider"].pk)).status_code == 404
    assert (
        world.call("owner", "put", members_url(world, world.users["member"].pk), {"role": "viewer"}).status_code == 405
    )


def test_last_owner_rule_in_the_service_is_race_safe() -> None:
    """Two owners demoting each other: the owner rows are locked, so the second sees one owner left."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    from devops import services

    users = [get_user_model().objects.create_user(f"race-{i}") for i in range(2)]
    project = services.create_project(owner=users[0], name="race-owners")
    second = services.add_member(project, user=users[1], role="owner")
    first = ProjectMember.objects.get(project=project, user=users[0])
    stale = ProjectMember.objects.get(pk=second.pk)  # read before the first demotion
    services.change_member_role(first, "member")
    with pytest.raises(ValidationError):
        services.change_member_role(stale, "viewer")
    with pytest.raises(ValidationError):
        services.remove_member(stale)
    assert ProjectMember.objects.filter(project=project, role="owner").count() == 1
