"""``projects/{project_pk}/members/``: who belongs to a project and with which role.

Viewers see the members; owners add (by username or user id), change roles and remove. A member is
addressed by the user's id (``members/{user_id}/``), which is what the list shows. The last owner can
be neither removed nor demoted (400 saying why), so a project never ends up without an owner.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from devops import services
from devops.api.projects_scope import PROJECT_PK, ProjectScopedViewSet, parse_id
from devops.api.projects_serializers import (
    ProjectMemberAddSerializer,
    ProjectMemberRoleSerializer,
    ProjectMemberSerializer,
)
from devops.models import ProjectMember

USER_ID = OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The member's user id.")


@extend_schema(parameters=[PROJECT_PK])
@extend_schema_view(
    list=extend_schema(summary="Members of a project (viewer)"),
    retrieve=extend_schema(summary="One member (viewer)", parameters=[USER_ID]),
    create=extend_schema(
        summary="Add a member by username or user id (owner)",
        request=ProjectMemberAddSerializer,
        responses={201: ProjectMemberSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a member's role (owner; not the last owner's)",
        request=ProjectMemberRoleSerializer,
        responses=ProjectMemberSerializer,
        parameters=[USER_ID],
    ),
    destroy=extend_schema(summary="Remove a member (owner; not the last owner)", parameters=[USER_ID]),
)
class MemberViewSet(ProjectScopedViewSet):
    serializer_class = ProjectMemberSerializer
    queryset = ProjectMember.objects.none()
    lookup_field = "user_id"
    lookup_url_kwarg = "user_id"
    lookup_value_regex = "[^/]+"  # an id with a dot still reaches the view (a JSON 404)
    filterset_fields = ["role"]
    ordering_fields = ["role"]

    def get_queryset(self) -> QuerySet[ProjectMember]:
        return self.scoped(ProjectMember.objects.select_related("user").order_by("user__username", "id"))

    def get_object(self) -> ProjectMember:
        user_id = parse_id(self.kwargs.get(self.lookup_url_kwarg))
        member = self.get_queryset().filter(user_id=user_id).first()
        if member is None:
            raise NotFound("this user is not a member of the project")
        return member

    def list(self, request: Request, project_pk: str) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ProjectMemberSerializer(page, many=True).data)

    def retrieve(self, request: Request, project_pk: str, user_id: str) -> Response:
        return Response(ProjectMemberSerializer(self.get_object()).data)

    def create(self, request: Request, project_pk: str) -> Response:
        serializer = ProjectMemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = services.add_member(self.project, **serializer.validated_data)
        return Response(ProjectMemberSerializer(member).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, project_pk: str, user_id: str) -> Response:
        member = self.get_object()
        serializer = ProjectMemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = services.change_member_role(member, serializer.validated_data["role"])
        return Response(ProjectMemberSerializer(member).data)

    def destroy(self, request: Request, project_pk: str, user_id: str) -> Response:
        services.remove_member(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
