"""DRF glue for ``devops.access``: views declare the role an action needs; objects are scoped to projects."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from devops.access import Role, require

READ_ACTIONS = frozenset({"list", "retrieve", "metadata"})


def project_id_of(obj: Any) -> int:
    """The project an API object belongs to (a Project, or anything with project_id / pipeline)."""
    from devops.models import Project

    if isinstance(obj, Project):
        return obj.pk
    if getattr(obj, "project_id", None) is not None:
        return obj.project_id
    if getattr(obj, "pipeline", None) is not None:
        return obj.pipeline.project_id
    raise TypeError(f"cannot tell the project of {type(obj).__name__}")


class ProjectRole(BasePermission):
    """Object permission: reads need VIEWER; other actions need ``view.action_roles[action]`` (default
    OWNER). Querysets are already limited to visible projects, so a foreign object is a 404 before this."""

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        action = getattr(view, "action", None) or ""
        roles: dict[str, Role] = getattr(view, "action_roles", {})
        needed = Role.VIEWER if action in READ_ACTIONS else roles.get(action, Role.OWNER)
        require(request.user, project_id_of(obj), needed)
        return True
