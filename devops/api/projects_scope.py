"""The base of the views under ``projects/{project_pk}/...``: the project's role check comes first.

An outsider gets 404 for the whole subtree (the project does not exist for them) before any input is
read; a reader needs ``read_role``, a writer ``write_role``. Querysets are always the project's own.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.viewsets import GenericViewSet

from devops.access import NotVisible, Role, require
from devops.models import Project

MAX_ID = 2**63 - 1
PROJECT_PK = OpenApiParameter("project_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="The project's id.")


def parse_id(value: Any) -> int:
    """A path id as an int; anything else is a 404 (an id that cannot exist names nothing)."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        raise NotVisible()
    return int(text)


class ProjectScopedViewSet(GenericViewSet):
    read_role = Role.VIEWER
    write_role = Role.OWNER
    project: Project

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)  # signed in at all
        project_id = parse_id(self.kwargs.get("project_pk"))
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        self.role = require(request.user, project_id, needed)
        project = Project.objects.filter(pk=project_id).first()
        if project is None:  # staff see every id, but only existing projects
            raise NotVisible()
        self.project = project

    def scoped(self, queryset: Any) -> Any:
        """``queryset`` limited to this project (empty while the schema is generated)."""
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        return queryset.filter(project=self.project)
