"""``projects/{project_pk}/secrets/`` and ``projects/{project_pk}/registries/``: write-only values.

Members and viewers may list secrets' names and keys and registries' hosts and usernames (they need
them to write ``envFrom`` and image references); only owners write. Secret values and registry
passwords are never in a response: the serializers have no readable field for them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from devops import services
from devops.api.projects_scope import PROJECT_PK, ProjectScopedViewSet
from devops.api.projects_serializers import ProjectRegistrySerializer, ProjectSecretSerializer
from devops.models import ProjectSecret, RegistryCredential


class _CrudViewSet(ProjectScopedViewSet):
    """List, read, create, replace, change and delete the project's objects through services."""

    lookup_value_regex = "[^/]+"  # an id with a dot still reaches the view (a JSON 404)

    def list(self, request: Request, project_pk: str) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, project_pk: str, pk: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, project_pk: str) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_object(serializer.validated_data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, project_pk: str, pk: str, partial: bool = False) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.update_object(instance, serializer.validated_data, partial=partial)
        return Response(self.get_serializer(instance).data)

    def partial_update(self, request: Request, project_pk: str, pk: str) -> Response:
        return self.update(request, project_pk, pk, partial=True)

    def destroy(self, request: Request, project_pk: str, pk: str) -> Response:
        self.delete_object(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def create_object(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def update_object(self, instance: Any, data: dict[str, Any], *, partial: bool) -> Any:
        raise NotImplementedError

    def delete_object(self, instance: Any) -> None:
        raise NotImplementedError


@extend_schema(parameters=[PROJECT_PK])
@extend_schema_view(
    list=extend_schema(summary="Secrets of a project: names and keys, never values (viewer)"),
    retrieve=extend_schema(summary="One secret: name and keys (viewer)"),
    create=extend_schema(summary="Add a secret (owner)"),
    update=extend_schema(summary="Replace a secret's name and all its values (owner)"),
    partial_update=extend_schema(summary="Rename and/or merge values; a null value removes its key (owner)"),
    destroy=extend_schema(summary="Delete a secret (owner)"),
)
class SecretViewSet(_CrudViewSet):
    serializer_class = ProjectSecretSerializer
    queryset = ProjectSecret.objects.none()
    filterset_fields = ["name"]
    ordering_fields = ["name"]

    def get_queryset(self) -> QuerySet[ProjectSecret]:
        return self.scoped(ProjectSecret.objects.order_by("name", "id"))

    def create_object(self, data: dict[str, Any]) -> ProjectSecret:
        return services.create_secret(self.project, name=data["name"], data=data["data"])

    def update_object(self, instance: ProjectSecret, data: dict[str, Any], *, partial: bool) -> ProjectSecret:
        return services.update_secret(instance, name=data.get("name"), data=data.get("data"), merge=partial)

    def delete_object(self, instance: ProjectSecret) -> None:
        services.delete_secret(instance)


@extend_schema(parameters=[PROJECT_PK])
@extend_schema_view(
    list=extend_schema(summary="Registry credentials of a project: hosts and usernames (viewer)"),
    retrieve=extend_schema(summary="One registry credential, without its password (viewer)"),
    create=extend_schema(summary="Add a registry credential (owner)"),
    update=extend_schema(summary="Replace a registry credential; a password left out is kept (owner)"),
    partial_update=extend_schema(summary="Change a registry credential (owner)"),
    destroy=extend_schema(summary="Delete a registry credential (owner)"),
)
class RegistryCredentialViewSet(_CrudViewSet):
    serializer_class = ProjectRegistrySerializer
    queryset = RegistryCredential.objects.none()
    filterset_fields = ["registry"]
    ordering_fields = ["registry"]

    def get_queryset(self) -> QuerySet[RegistryCredential]:
        return self.scoped(RegistryCredential.objects.order_by("registry", "id"))

    def create_object(self, data: dict[str, Any]) -> RegistryCredential:
        return services.create_registry_credential(self.project, **data)

    def update_object(self, instance: RegistryCredential, data: dict[str, Any], *, partial: bool) -> RegistryCredential:
        return services.update_registry_credential(instance, **data)

    def delete_object(self, instance: RegistryCredential) -> None:
        services.delete_registry_credential(instance)
