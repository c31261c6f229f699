"""Source code providers, users' credentials for them, and the repositories those can administer."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from devops.crypto import EncryptedTextField


class Provider(models.TextChoices):
    GITHUB = "github"
    GITLAB = "gitlab"
    BITBUCKET_CLOUD = "bitbucket"
    BITBUCKET_SERVER = "bitbucket-server"
    GITEA = "gitea"
    GIT = "git"


class SourceCodeProviderConfig(models.Model):
    provider = models.CharField(max_length=20, choices=Provider.choices)
    host = models.CharField(max_length=253, blank=True, default="", help_text="Empty for the public SaaS.")
    client_id = models.CharField(max_length=200, blank=True, default="")
    client_secret = EncryptedTextField(blank=True, default="")
    enabled = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "host"], name="uniq_provider_host")]

    def __str__(self) -> str:
        return f"{self.provider} {self.host}".strip()


class SourceCodeCredential(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scm_credentials")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    host = models.CharField(max_length=253, blank=True, default="")
    login = models.CharField(max_length=200)
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.login}@{self.provider}"


class SourceCodeRepository(models.Model):
    credential = models.ForeignKey(SourceCodeCredential, on_delete=models.CASCADE, related_name="repositories")
    url = models.URLField(max_length=500)
    clone_url = models.CharField(max_length=500)
    default_branch = models.CharField(max_length=255, default="main")
    permissions = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential", "url"], name="uniq_credential_repo")]

    def __str__(self) -> str:
        return self.url
