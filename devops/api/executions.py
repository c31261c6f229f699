"""``/api/v1/executions/``: list and detail of visible executions, abort, rerun, and step logs.

Viewers read (logs too); members abort and rerun. Querysets come from ``devops.execution_selectors``,
which only ever holds executions of the user's projects, so a foreign id is a 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from devops import engine
from devops.access import Role
from devops.api.execution_serializers import ExecutionDetailSerializer, ExecutionRowSerializer
from devops.api.logs import LOG_RENDERERS, log_schema, parse_log_query, plain_log_response, sse_log_response
from devops.api.permissions import ProjectRole
from devops.execution_selectors import executions_with_units, step_of, visible_executions
from devops.models import PipelineExecution
from devops.models.executions import Event, TriggerType
from devops.states import FINAL_STATES, State


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.NumberFilter):
    """An id: an integer (a decimal like ``1.5`` is a 400, not a silent match on 1)."""

    field_class = forms.IntegerField


class ExecutionFilter(django_filters.FilterSet):
    # Plain ids, not model choices: a foreign pipeline must give an empty list, like a missing one,
    # not a "select a valid choice" error that would tell it exists.
    pipeline = IdFilter(field_name="pipeline_id", min_value=1, max_value=2**63 - 1)
    project = IdFilter(field_name="project_id", min_value=1, max_value=2**63 - 1)
    state = django_filters.ChoiceFilter(choices=State.choices)
    event = django_filters.ChoiceFilter(choices=Event.choices)
    trigger_type = django_filters.ChoiceFilter(choices=TriggerType.choices)
    branch = django_filters.CharFilter(max_length=255)

    class Meta:
        model = PipelineExecution
        fields = ["pipeline", "project", "state", "event", "trigger_type", "branch"]


_CONFLICT = OpenApiResponse(description="The execution is already final.")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflicts with the object's current state"
    default_code = "conflict"


@extend_schema_view(
    list=extend_schema(summary="Executions of your projects, newest first"),
    retrieve=extend_schema(summary="One execution with its stages and steps"),
)
class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*viewsets.GenericViewSet.permission_classes, ProjectRole]
    action_roles = {"abort": Role.MEMBER, "rerun": Role.MEMBER, "logs": Role.VIEWER}
    filterset_class = ExecutionFilter
    ordering_fields = ["created_at", "run"]
    ordering = ["-created_at", "-id"]
    queryset = PipelineExecution.objects.none()  # for the schema; get_queryset scopes to the user
    # Any segment reaches the view, so a malformed id ("0.5") is a JSON 404 rather than Django's page.
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> Any:
        if self.action == "retrieve":
            return executions_with_units(self.request.user)
        return visible_executions(self.request.user)

    def get_serializer_class(self) -> Any:
        return ExecutionRowSerializer if self.action == "list" else ExecutionDetailSerializer

    def _detail(self, execution_id: int, code: int) -> Response:
        execution = executions_with_units(self.request.user).get(pk=execution_id)
        return Response(self.get_serializer(execution).data, status=code)

    @extend_schema(
        request=None,
        summary="Abort a queued or running execution (member)",
        responses={202: ExecutionDetailSerializer, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def abort(self, request: Request, pk: str | None = None) -> Response:
        execution = self.get_object()
        if execution.state in FINAL_STATES:
            raise Conflict(f"execution is already {execution.state}; only a queued or running one can be aborted")
        if not engine.abort(execution.pk, f"aborted by {request.user.get_username()}"):
            # Lost a race with the runner (or another abort): it became final in between.
            execution.refresh_from_db(fields=["state"])
            raise Conflict(f"execution is already {execution.state}; only a queued or running one can be aborted")
        return self._detail(execution.pk, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        summary="Run the same config snapshot and commit again (member)",
        responses={201: ExecutionDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: str | None = None) -> Response:
        execution = self.get_object()
        new = engine.rerun(execution, triggered_by_id=request.user.pk)
        return self._detail(new.pk, status.HTTP_201_CREATED)

    @log_schema
    @action(
        detail=True,
        methods=["get"],
        url_path=r"logs/(?P<stage>[^/]+)/(?P<step>[^/]+)",
        url_name="logs",
        renderer_classes=LOG_RENDERERS,
        filter_backends=[],
        pagination_class=None,
    )
    def logs(self, request: Request, pk: str | None = None, stage: str = "", step: str = "") -> HttpResponseBase:
        execution = self.get_object()
        offset, follow = parse_log_query(request)
        stage_index = int(stage) if stage.isascii() and stage.isdigit() and len(stage) < 6 else -1
        step_index = int(step) if step.isascii() and step.isdigit() and len(step) < 6 else -1
        step_run = step_of(execution, stage_index, step_index)
        if step_run is None:
            raise exceptions.NotFound(f"this execution has no step {step} in stage {stage} (0-based indexes)")
        return sse_log_response(step_run, offset) if follow else plain_log_response(step_run, offset)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # A log error is JSON like every other error, whatever the client accepted for the log itself.
        if self.action == "logs" and isinstance(response, Response):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def register(router: DefaultRouter) -> None:
    router.register("executions", ExecutionViewSet, basename="execution")
