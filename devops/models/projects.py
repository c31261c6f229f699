"""Projects, their members, settings, secrets and registry credentials."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from devops.crypto import EncryptedJSONField, EncryptedTextField


class Project(models.Model):
    name = models.SlugField(max_length=50, unique=True)
    display_name = models.CharField(max_length=200, blank=True, default="")
    cluster = models.ForeignKey(
        "devops.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    # The namespaces this project deploys to: the pipeline service account may deploy there only.
    namespaces = models.JSONField(default=list, blank=True)
    # Touched by every admission: the write takes the row lock that serialises admissions of a project.
    admission_seq = models.BigIntegerField(default=0, editable=False)
    # sha256 of the token in the image-push webhook URL (/hooks/images/<token>/); the token itself is
    # shown once when made (services.rotate_image_hook_token) and never stored.
    image_hook_digest = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ProjectMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"
        VIEWER = "viewer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="uniq_project_member")]


class PipelineSetting(models.Model):
    """One project-level knob; the keys and their defaults live in ``devops.project_settings``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="settings")
    key = models.CharField(max_length=64)
    value = models.CharField(max_length=1000)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="uniq_project_setting")]

    def __str__(self) -> str:
        return f"{self.project}:{self.key}"


class ProjectSecret(models.Model):
    """Key/value pairs a step reads through ``envFrom``; values are encrypted and never shown."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="secrets")
    name = models.SlugField(max_length=253)
    data = EncryptedJSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_project_secret")]

    def __str__(self) -> str:
        return f"{self.project}/{self.name}"


class RegistryCredential(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="registry_credentials")
    registry = models.CharField(max_length=253, help_text="host[:port], e.g. registry.example.com")
    username = models.CharField(max_length=200)
    password = EncryptedTextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "registry"], name="uniq_project_registry")
        ]

    def __str__(self) -> str:
        return f"{self.project}:{self.registry}"
