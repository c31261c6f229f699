"""Pipelines (a repository wired to the service) and project-level pipeline templates."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import models

from devops.crypto import EncryptedTextField
from devops.states import State

from .scm import Provider


def _new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Pipeline(models.Model):
    project = models.ForeignKey("devops.Project", on_delete=models.CASCADE, related_name="pipelines")
    name = models.SlugField(max_length=100)
    repository_url = models.CharField(max_length=500, help_text="Clone URL or a local path.")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.GIT)
    credential = models.ForeignKey(
        "devops.SourceCodeCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_branch = models.CharField(max_length=255, default="main")
    trigger_push = models.BooleanField(default=True)
    trigger_pull_request = models.BooleanField(default=True)
    trigger_tag = models.BooleanField(default=True)
    webhook_secret = EncryptedTextField(default=_new_webhook_secret)
    remote_webhook_id = models.CharField(max_length=100, blank=True, default="")
    # Polling (plain git): the heads seen by the last poll, {"refs/heads/main": sha}; empty until the
    # first poll, which records without building so enabling polling does not build every branch.
    poll = models.BooleanField(default=False, help_text="Poll the repository for new commits (plain git).")
    polled_heads = models.JSONField(default=dict, blank=True, editable=False)
    polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_run = models.PositiveIntegerField(default=1, editable=False)
    last_run_state = models.CharField(max_length=10, choices=State.choices, blank=True, default="")
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Nodes recent executions ran on, newest first: the executor prefers them for warm caches.
    scheduled_nodes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_project_pipeline")]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A full save of an existing row leaves the fields the service itself keeps alone: a form or
        a stale instance would otherwise put back an old run counter or forget the remote webhook."""
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name not in SYSTEM_FIELDS
            ]
        super().save(*args, **kwargs)


# Written only with targeted UPDATEs by the engine, the webhook registration and the poller.
SYSTEM_FIELDS = frozenset(
    {"next_run", "last_run_state", "last_run_at", "scheduled_nodes", "remote_webhook_id", "polled_heads", "polled_at"}
)


class PipelineTemplate(models.Model):
    """A pipeline file body with ``${params.NAME}`` placeholders, shared by a project's pipelines."""

    project = models.ForeignKey("devops.Project", on_delete=models.CASCADE, related_name="templates")
    name = models.SlugField(max_length=100)
    body = models.TextField()
    # name -> default value; null means the parameter is required.
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_project_template")]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"
