"""What starts executions without a person: webhook deliveries, image triggers, schedules.

``WebhookDelivery`` is the record of every outside event that may start an execution (a provider
webhook, an image push, a schedule firing, a polled new head). Its unique key is how a replayed
delivery is recognised, and its ``outcome``/``reason`` are where "why did this not build?" is answered.
"""

from __future__ import annotations

from django.db import models


class DeliverySource(models.TextChoices):
    GITHUB = "github"
    GITLAB = "gitlab"
    BITBUCKET_CLOUD = "bitbucket"
    BITBUCKET_SERVER = "bitbucket-server"
    GITEA = "gitea"
    HARBOR = "harbor"
    DOCKERHUB = "dockerhub"
    ACR = "acr"
    CRON = "cron"
    POLL = "poll"


class DeliveryOutcome(models.TextChoices):
    QUEUED = "queued", "queued (being processed)"
    CREATED = "created", "created an execution"
    SKIPPED = "skipped", "skipped (filtered or disabled)"
    FAILED = "failed", "failed (see reason)"


class WebhookDelivery(models.Model):
    pipeline = models.ForeignKey("devops.Pipeline", on_delete=models.CASCADE, related_name="deliveries")
    source = models.CharField(max_length=20, choices=DeliverySource.choices)
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=40, blank=True, default="")
    # The delivery reduced to what builds (HookEvent.to_dict()); never the raw body or its headers.
    payload = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices, default=DeliveryOutcome.QUEUED)
    reason = models.TextField(blank=True, default="")
    execution = models.ForeignKey(
        "devops.PipelineExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "source", "delivery_id"], name="uniq_pipeline_delivery")
        ]
        indexes = [models.Index(fields=["pipeline", "-received_at"], name="delivery_pipeline_recent")]

    def __str__(self) -> str:
        return f"{self.source}:{self.delivery_id}"


class ImageTrigger(models.Model):
    """Start ``pipeline`` on ``branch`` when an image matching the patterns is pushed to a registry."""

    pipeline = models.ForeignKey("devops.Pipeline", on_delete=models.CASCADE, related_name="image_triggers")
    image = models.CharField(
        max_length=300, help_text="Glob on the repository, e.g. library/app or */app; a registry host is optional."
    )
    tag = models.CharField(max_length=128, default="*", help_text="Glob on the tag, e.g. v* or *.")
    branch = models.CharField(max_length=255, blank=True, default="", help_text="Empty: the default branch.")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.pipeline} <- {self.image}:{self.tag}"


class PipelineSchedule(models.Model):
    """A cron trigger; kept in step with a django-celery-beat ``PeriodicTask`` by ``devops.schedules``."""

    pipeline = models.ForeignKey("devops.Pipeline", on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=100, help_text="Five fields: minute hour day-of-month month day-of-week.")
    branch = models.CharField(max_length=255, blank=True, default="", help_text="Empty: the default branch.")
    timezone = models.CharField(max_length=63, default="UTC")
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.pipeline} @ {self.cron}"
