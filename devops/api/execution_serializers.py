"""How executions look in the API: a compact row for lists, the full picture (stages, steps, log
links) for the detail. Read-only: executions are created by triggers and changed only by the engine."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devops.execution_selectors import stages_of
from devops.models import PipelineExecution, StepRun
from devops.states import State


class ExecutionRowSerializer(serializers.ModelSerializer):
    """One line of the executions list."""

    pipeline_name = serializers.CharField(source="pipeline.name", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    message = serializers.SerializerMethodField(help_text="The first line of the commit message.")
    duration = serializers.SerializerMethodField(
        help_text="Seconds from start to end (to now while it runs); null before it starts."
    )

    class Meta:
        model = PipelineExecution
        fields = [
            "id",
            "pipeline",
            "pipeline_name",
            "project",
            "project_name",
            "run",
            "state",
            "event",
            "trigger_type",
            "branch",
            "tag",
            "commit",
            "message",
            "author",
            "created_at",
            "started_at",
            "ended_at",
            "duration",
        ]
        read_only_fields = fields

    def get_message(self, obj: PipelineExecution) -> str:
        return obj.message.split("\n", 1)[0].rstrip("\r")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration(self, obj: PipelineExecution) -> float | None:
        if obj.started_at is None:
            return None
        end = obj.ended_at or timezone.now()
        return round(max((end - obj.started_at).total_seconds(), 0.0), 3)


class StepSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True, help_text="The step's kind from the config snapshot: sourceCode, runScript, publishImage, …"
    )
    log_url = serializers.SerializerMethodField(help_text="Where to read this step's log (text/plain or SSE).")

    class Meta:
        model = StepRun
        fields = ["index", "name", "kind", "state", "exit_code", "started_at", "ended_at", "reason", "log_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_log_url(self, obj: StepRun) -> str:
        path = reverse("execution-logs", args=[obj.execution_id, obj.stage_index, obj.index])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class StageSerializer(serializers.Serializer):
    index = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    state = serializers.ChoiceField(choices=State.choices, read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)
    steps = StepSerializer(many=True, read_only=True)


class ExecutionDetailSerializer(ExecutionRowSerializer):
    """The row plus why it ended, who triggered it, and every stage with its steps."""

    triggered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Username of who ran it, if a person did."
    )
    stages = serializers.SerializerMethodField()

    class Meta(ExecutionRowSerializer.Meta):
        fields = [*ExecutionRowSerializer.Meta.fields, "reason", "triggered_by", "rerun_of", "config_file", "stages"]
        read_only_fields = fields

    @extend_schema_field(StageSerializer(many=True))
    def get_stages(self, obj: PipelineExecution) -> list[dict[str, Any]]:
        return StageSerializer(stages_of(obj), many=True, context=self.context).data
