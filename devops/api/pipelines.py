"""``/api/v1/pipelines/``: pipelines of the user's projects, their manual runs, and file validation.

Viewers read; members run; owners create, edit, delete and rotate the webhook secret. The queryset
only ever holds pipelines of visible projects, so a foreign id is a 404 like a missing one; creating
in a project is checked with ``devops.access.require`` (404 not visible, 403 not owner). Writes go
through ``devops.pipeline_services``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.serializers import BaseSerializer

from devops import pipeline_services as services
from devops.access import Role, require, visible_project_ids
from devops.api.permissions import ProjectRole
from devops.api.pipelines_serializers import (
    MAX_ID,
    PipelineSerializer,
    RunRefusedSerializer,
    RunResultSerializer,
    RunSerializer,
    SecretSerializer,
    UpstreamErrorSerializer,
    ValidateResultSerializer,
    ValidateSerializer,
)
from devops.models import ImageTrigger, Pipeline, PipelineExecution, PipelineSchedule, Project
from devops.models.scm import Provider
from devops.pipeline_config import PipelineConfigError, parse_pipeline
from devops.scm.base import ProviderError
from devops.triggers import TriggerError, project_templates


class UpstreamError(exceptions.APIException):
    """The source code provider failed or refused (a token that cannot be refreshed, an outage)."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "the source code provider did not answer as expected"
    default_code = "upstream_error"


# The id in the path is documented as the integer it is; the route itself takes any segment (see
# lookup_value_regex) so that a malformed id is this API's JSON 404, not Django's HTML page.
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The object's id.")
UPSTREAM = OpenApiResponse(UpstreamErrorSerializer, description="The source code provider failed or refused.")


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An id: an integer (``1.5`` is a 400, not a silent match on 1)."""

    field_class = forms.IntegerField


class PipelineFilter(django_filters.FilterSet):
    # A plain id, not a model choice: a foreign project must give an empty list like a missing one.
    project = IdFilter(field_name="project_id", min_value=1, max_value=MAX_ID)
    provider = django_filters.ChoiceFilter(choices=Provider.choices)

    class Meta:
        model = Pipeline
        fields = ["project", "provider"]


def config_error_list(exc: PipelineConfigError) -> list[dict[str, Any]]:
    return [{"file": e.file, "line": e.line, "column": e.column, "message": e.message} for e in exc.errors]


def config_refused(exc: PipelineConfigError) -> Response:
    errors = config_error_list(exc)
    count = len(errors)
    first = exc.errors[0] if exc.errors else None
    detail = f"the pipeline file has {count} error{'s' if count != 1 else ''}" + (f"; first: {first}" if first else "")
    return Response(
        {"detail": detail, "errors": {"config": [str(e) for e in exc.errors]}, "config_errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


@extend_schema_view(
    list=extend_schema(summary="Pipelines of your projects"),
    retrieve=extend_schema(parameters=[ID_PARAM], summary="One pipeline (the webhook secret is never shown)"),
    create=extend_schema(summary="Create a pipeline in a project where you are owner"),
    update=extend_schema(
        parameters=[ID_PARAM], summary="Replace a pipeline's settings (owner); schedules and image triggers if given"
    ),
    partial_update=extend_schema(parameters=[ID_PARAM], summary="Change some of a pipeline's settings (owner)"),
    destroy=extend_schema(parameters=[ID_PARAM], summary="Delete a pipeline and its remote webhook (owner)"),
)
class PipelineViewSet(viewsets.ModelViewSet):
    permission_classes = [*viewsets.ModelViewSet.permission_classes, ProjectRole]
    parser_classes = [JSONParser]  # nested lists (schedules, image triggers) have no form encoding
    action_roles = {"run": Role.MEMBER}  # everything else that writes needs OWNER (ProjectRole's default)
    serializer_class = PipelineSerializer
    filterset_class = PipelineFilter
    ordering_fields = ["id", "name", "created_at", "last_run_at"]
    ordering = ["id"]
    lookup_value_regex = "[^/]+"  # the router's default stops at a dot: "0.5" would be Django's HTML 404
    queryset = Pipeline.objects.none()  # for the schema; get_queryset scopes to the user

    def get_queryset(self) -> Any:
        return (
            Pipeline.objects.filter(project_id__in=visible_project_ids(self.request.user))
            .select_related("project")
            .prefetch_related(
                Prefetch("schedules", queryset=PipelineSchedule.objects.order_by("id")),
                Prefetch("image_triggers", queryset=ImageTrigger.objects.order_by("id")),
            )
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"run": RunSerializer, "validate": ValidateSerializer}.get(self.action, PipelineSerializer)

    # --- writes --------------------------------------------------------------------------------------
    @staticmethod
    def _split(validated: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        fields = dict(validated)
        fields.pop("project_id", None)
        lists: dict[str, Any] = {}
        if "schedules" in fields:
            lists["schedules"] = [services.ScheduleInput(**item) for item in fields.pop("schedules")]
        if "image_triggers" in fields:
            lists["image_triggers"] = [services.ImageTriggerInput(**item) for item in fields.pop("image_triggers")]
        return fields, lists

    def _reloaded(self, pipeline_id: int) -> Pipeline:
        return self.get_queryset().get(pk=pipeline_id)

    def perform_create(self, serializer: Any) -> None:
        project_id = serializer.validated_data["project_id"]
        require(self.request.user, project_id, Role.OWNER)
        fields, lists = self._split(serializer.validated_data)
        pipeline = services.create_pipeline(Project.objects.get(pk=project_id), fields, **lists)
        serializer.instance = self._reloaded(pipeline.pk)

    def perform_update(self, serializer: Any) -> None:
        fields, lists = self._split(serializer.validated_data)
        pipeline = services.update_pipeline(serializer.instance, fields, **lists)
        serializer.instance = self._reloaded(pipeline.pk)

    def perform_destroy(self, instance: Pipeline) -> None:
        services.delete_pipeline(instance)

    # --- actions -------------------------------------------------------------------------------------
    @extend_schema(
        parameters=[ID_PARAM],
        request=None,
        summary="Rotate the webhook secret (owner); the new secret is in this answer only",
        description="The secret is never shown anywhere else: copy it into the provider's webhook now. "
        "A webhook the service registered on the provider is re-registered with the new secret.",
        responses={200: SecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[], pagination_class=None)
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        pipeline = self.get_object()
        return Response({"webhook_secret": services.rotate_webhook_secret(pipeline)})

    @extend_schema(
        parameters=[ID_PARAM],
        request=RunSerializer,
        summary="Run the pipeline now (member); `config` runs a posted file once without committing it",
        description="Resolves the branch (default: the repository's HEAD), tag or commit, reads the pipeline "
        "file there (or takes `config`, the temporary config), parses it and creates the execution. A file "
        "that does not parse is a 400 with `config_errors` (line and column of each error).",
        responses={201: RunResultSerializer, 400: RunRefusedSerializer, 502: UPSTREAM},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def run(self, request: Request, pk: str | None = None) -> Response:
        pipeline = self.get_object()
        body = RunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            execution = services.run_pipeline(
                pipeline,
                user_id=request.user.pk,
                branch=data.get("branch"),
                tag=data.get("tag"),
                commit=data.get("commit"),
                config_text=data.get("config"),
            )
        except PipelineConfigError as exc:
            return config_refused(exc)
        except TriggerError as exc:
            raise exceptions.ValidationError(str(exc)) from None
        except ProviderError as exc:
            raise UpstreamError(str(exc)) from None
        return Response(self._run_result(execution), status=status.HTTP_201_CREATED)

    def _run_result(self, execution: PipelineExecution) -> dict[str, Any]:
        url = self.request.build_absolute_uri(reverse("execution-detail", args=[execution.pk]))
        fields = ("id", "run", "state", "branch", "tag", "commit", "event", "config_file")
        return {**{name: getattr(execution, name) for name in fields}, "url": url}

    @extend_schema(
        request=ValidateSerializer,
        summary="Check a pipeline file body: its errors with line and column",
        description="Any signed-in user. Always 200 for a readable request: `valid` says whether the file "
        "parses, `errors` lists every problem (a 400 means the request itself was malformed). With "
        "`project`, `template:` references use that project's templates (404 if you cannot see it).",
        responses={200: ValidateResultSerializer},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def validate(self, request: Request) -> Response:
        body = ValidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project_id = body.validated_data.get("project")
        templates = {}
        if project_id is not None:
            require(request.user, project_id, Role.VIEWER)
            templates = project_templates(project_id)
        try:
            spec = parse_pipeline(body.validated_data["config"], filename=".devops.yml", templates=templates)
        except PipelineConfigError as exc:
            return Response({"valid": False, "stages": None, "stage_names": [], "errors": config_error_list(exc)})
        names = [stage.name for stage in spec.stages]
        return Response({"valid": True, "stages": len(names), "stage_names": names, "errors": []})


def register(router: DefaultRouter) -> None:
    router.register("pipelines", PipelineViewSet, basename="pipeline")
