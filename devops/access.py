"""Who may do what in a project: the one place the API, the web UI and the CLI ask.

Roles are ordered: a viewer reads; a member also runs, aborts and reruns; an owner also manages
pipelines, settings, secrets, registry credentials and membership. Staff act as owners everywhere.
Someone outside a project must not learn that its objects exist: ``NotVisible`` maps to 404, while
``NotAllowed`` (403) is only for people who can see the object but lack the role.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from django.db.models import QuerySet

from devops.models import Project, ProjectMember


class Role(IntEnum):
    VIEWER = 1
    MEMBER = 2
    OWNER = 3

    @classmethod
    def parse(cls, value: str) -> Role:
        return cls[value.upper()]


class NotVisible(Exception):
    """The object does not exist for this user (answer 404)."""


class NotAllowed(Exception):
    """The user sees the object but their role does not allow the action (answer 403)."""


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and (user.is_staff or user.is_superuser))


def role_of(user: Any, project_id: int) -> Role | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if is_staff(user):
        return Role.OWNER
    value = ProjectMember.objects.filter(project_id=project_id, user_id=user.pk).values_list("role", flat=True).first()
    return Role.parse(value) if value else None


def visible_projects(user: Any) -> QuerySet[Project]:
    if is_staff(user):
        return Project.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(members__user_id=user.pk).distinct()


def visible_project_ids(user: Any) -> QuerySet[Any]:
    return visible_projects(user).values("id")


def require(user: Any, project_id: int, role: Role) -> Role:
    """The user's role in the project if at least ``role``; NotVisible or NotAllowed otherwise."""
    have = role_of(user, project_id)
    if have is None:
        raise NotVisible()
    if have < role:
        raise NotAllowed(f"this needs the {role.name.lower()} role in the project; you are {have.name.lower()}")
    return have
