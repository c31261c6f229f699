"""One run of a pipeline, with a row per stage and per step so each transition is one conditional UPDATE."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from devops.states import State


class TriggerType(models.TextChoices):
    USER = "user"
    WEBHOOK = "webhook"
    CRON = "cron"
    IMAGE = "image"
    POLL = "poll"


class Event(models.TextChoices):
    PUSH = "push"
    PULL_REQUEST = "pull_request"
    TAG = "tag"
    MANUAL = "manual"
    IMAGE = "image"
    CRON = "cron"


class PipelineExecution(models.Model):
    pipeline = models.ForeignKey("devops.Pipeline", on_delete=models.CASCADE, related_name="executions")
    # Denormalised from the pipeline: admission counts a project's running executions on every finish.
    project = models.ForeignKey("devops.Project", on_delete=models.CASCADE, related_name="executions")
    run = models.PositiveIntegerField()
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices, default=TriggerType.USER)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.CharField(max_length=20, choices=Event.choices, default=Event.MANUAL)
    repository_url = models.CharField(max_length=500)
    branch = models.CharField(max_length=255, blank=True, default="")
    ref = models.CharField(max_length=300, blank=True, default="")
    tag = models.CharField(max_length=255, blank=True, default="")
    commit = models.CharField(max_length=64, blank=True, default="")
    message = models.TextField(blank=True, default="")
    author = models.CharField(max_length=255, blank=True, default="")
    config = models.JSONField(help_text="The parsed pipeline file this execution runs (a snapshot).")
    config_file = models.CharField(max_length=100, blank=True, default="")
    extra_env = models.JSONField(default=dict, blank=True, help_text="e.g. CICD_IMAGE for image triggers")
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUEING, editable=False)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    node = models.CharField(max_length=253, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pipeline", "run"], name="uniq_pipeline_run")]
        indexes = [
            models.Index(fields=["project", "state"], name="exec_project_state"),
            models.Index(fields=["state", "heartbeat_at"], name="exec_state_heartbeat"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.pipeline_id}-{self.run}"

    @property
    def execution_id(self) -> str:
        """CICD_EXECUTION_ID: `<pipeline id>-<run number>`."""
        return f"{self.pipeline_id}-{self.run}"


class StageRun(models.Model):
    execution = models.ForeignKey(PipelineExecution, on_delete=models.CASCADE, related_name="stages")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "index"], name="uniq_stage")]
        ordering = ["execution", "index"]


class StepRun(models.Model):
    execution = models.ForeignKey(PipelineExecution, on_delete=models.CASCADE, related_name="steps")
    stage_index = models.PositiveSmallIntegerField()
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING, editable=False)
    reason = models.TextField(blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Process group of the step on the runner's host, so an abort can kill it even if the runner hangs.
    pid = models.IntegerField(null=True, blank=True)
    host = models.CharField(max_length=253, blank=True, default="")
    log_key = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["execution", "stage_index", "index"], name="uniq_step")
        ]
        ordering = ["execution", "stage_index", "index"]
