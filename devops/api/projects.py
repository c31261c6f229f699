"""``projects/``: CRUD of projects and their settings; members, secrets and registry credentials are
registered from here too (``projects_members``, ``projects_secrets``).

Anyone signed in may create a project and becomes its owner; the list shows the projects one belongs
to (staff: all). Viewers read, owners change and delete; someone outside a project gets 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from devops import services
from devops.access import Role, is_staff, visible_projects
from devops.api.permissions import ProjectRole
from devops.api.projects_serializers import ProjectSerializer, ProjectSettingSerializer, ProjectSettingsPatchSerializer
from devops.models import PipelineSetting, Project, ProjectMember
from devops.project_settings import SETTINGS
from devops.selectors import project_settings

NAMESPACES_STAFF_ONLY = (
    "only staff may set a project's namespaces: they grant its pipelines deploy rights in the cluster"
)


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflicts with the object's current state"
    default_code = "conflict"


def settings_rows(project: Project) -> list[dict[str, Any]]:
    """Every registry key with the value that applies, its default, and whether the project overrides it."""
    stored = set(PipelineSetting.objects.filter(project=project).values_list("key", flat=True))
    values = project_settings(project)
    return [
        {
            "key": key,
            "value": values[key],
            "default": definition.default(),
            "is_default": key not in stored,
            "help": definition.help,
        }
        for key, definition in SETTINGS.items()
    ]


@extend_schema_view(
    list=extend_schema(summary="Projects you belong to (staff: all)"),
    create=extend_schema(summary="Create a project; you become its owner"),
    retrieve=extend_schema(summary="One project (viewer)"),
    update=extend_schema(summary="Replace a project's display name / namespaces (owner; namespaces: staff)"),
    partial_update=extend_schema(summary="Change a project's display name / namespaces (owner; namespaces: staff)"),
    destroy=extend_schema(summary="Delete a project and everything in it (owner; 409 while executions run)"),
)
class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Projects. Create: any signed-in user; they become the owner. Read: viewer. Change, delete: owner."""

    serializer_class = ProjectSerializer
    queryset = Project.objects.none()
    permission_classes = [IsAuthenticated, ProjectRole]
    action_roles = {
        "update": Role.OWNER,
        "partial_update": Role.OWNER,
        "destroy": Role.OWNER,
        "read_settings": Role.VIEWER,
        "update_settings": Role.OWNER,
    }
    lookup_value_regex = "[^/]+"  # an id with a dot still reaches the view (a JSON 404)
    filterset_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Project]:
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        user = self.request.user
        queryset = visible_projects(user)
        if not is_staff(user):
            role = ProjectMember.objects.filter(project=OuterRef("pk"), user_id=user.pk).values("role")[:1]
            queryset = queryset.annotate(my_role_value=Subquery(role))
        return queryset.order_by("name")

    def _check_namespaces(self, data: dict[str, Any], instance: Project | None) -> None:
        if "namespaces" not in data or is_staff(self.request.user):
            return
        if data["namespaces"] != (instance.namespaces if instance else []):
            raise exceptions.PermissionDenied(NAMESPACES_STAFF_ONLY)

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._check_namespaces(serializer.validated_data, None)
        serializer.instance = services.create_project(owner=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("name", None)  # checked unchanged by the serializer
        self._check_namespaces(data, serializer.instance)
        services.update_project(serializer.instance, **data)

    def perform_destroy(self, instance: Project) -> None:
        try:
            services.delete_project(instance)
        except services.Conflict as exc:
            raise ConflictError(str(exc)) from exc

    # The action is ``read_settings`` (GET) / ``update_settings`` (PATCH): ``settings`` is taken by APIView.
    @extend_schema(
        summary="Every setting with its value, default and help (viewer)",
        responses=ProjectSettingSerializer(many=True),
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="settings",
        url_name="settings",
        pagination_class=None,
        filter_backends=[],
    )
    def read_settings(self, request: Request, pk: str | None = None) -> Response:
        project = self.get_object()
        return Response(ProjectSettingSerializer(settings_rows(project), many=True).data)

    @extend_schema(
        summary="Set settings, all or nothing (owner)",
        description="Body `{key: value, ...}`: every value is validated (quota a non-negative integer, CPU and "
        "memory Kubernetes quantities, each request at most its limit); one bad or unknown key rejects the "
        "whole request with a 400 naming each bad key. A null value or the default resets the key.",
        request=ProjectSettingsPatchSerializer,
        responses=ProjectSettingSerializer(many=True),
        filters=False,
    )
    @read_settings.mapping.patch
    def update_settings(self, request: Request, pk: str | None = None) -> Response:
        project = self.get_object()
        serializer = ProjectSettingsPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_project_settings(project, dict(serializer.validated_data))
        return Response(ProjectSettingSerializer(settings_rows(project), many=True).data)


def register(router: BaseRouter) -> None:
    from devops.api.projects_members import MemberViewSet
    from devops.api.projects_secrets import RegistryCredentialViewSet, SecretViewSet

    router.register("projects", ProjectViewSet, basename="project")
    router.register(r"projects/(?P<project_pk>[^/]+)/members", MemberViewSet, basename="project-member")
    router.register(r"projects/(?P<project_pk>[^/]+)/secrets", SecretViewSet, basename="project-secret")
    router.register(
        r"projects/(?P<project_pk>[^/]+)/registries", RegistryCredentialViewSet, basename="project-registry"
    )
