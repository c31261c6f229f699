"""How to reach a Kubernetes API. A project bound to a cluster runs on the Kubernetes executor."""

from __future__ import annotations

from django.db import models

from devops.crypto import EncryptedTextField


class Cluster(models.Model):
    name = models.SlugField(max_length=63, unique=True)
    in_cluster = models.BooleanField(
        default=False, help_text="Use the service account the service itself runs with."
    )
    kubeconfig = EncryptedTextField(blank=True, default="", help_text="Stored encrypted; write-only.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
