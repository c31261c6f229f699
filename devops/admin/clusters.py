"""Clusters: how to reach a Kubernetes API. The kubeconfig (it holds tokens or client keys) is write-only."""

from __future__ import annotations

from typing import Any

import yaml
from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from devops.models import Cluster

from .common import KEEP_HELP, WriteOnlyFormMixin, is_set, secret_field


def check_kubeconfig(text: str) -> None:
    """Reject what the Kubernetes executor could not load. Messages give a line at most: quoting the
    document would put its token on the page."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise forms.ValidationError(f"the kubeconfig is not valid YAML{where}") from None
    if not isinstance(document, dict):
        raise forms.ValidationError("the kubeconfig must be a YAML mapping (apiVersion, clusters, users, contexts)")
    for key in ("clusters", "contexts"):
        if not isinstance(document.get(key), list) or not document[key]:
            raise forms.ValidationError(f"the kubeconfig has no {key!r} list")


class ClusterForm(WriteOnlyFormMixin):
    kubeconfig = secret_field("Kubeconfig", textarea=True, help_text=KEEP_HELP + " Not needed with in-cluster.")
    clear_kubeconfig = forms.BooleanField(label="Remove the stored kubeconfig", required=False)
    write_only = {"kubeconfig": "clear_kubeconfig"}

    class Meta:
        model = Cluster
        fields = ("name", "in_cluster", "kubeconfig", "clear_kubeconfig")

    def clean_kubeconfig(self) -> str:
        text = self.cleaned_data.get("kubeconfig") or ""
        if text.strip():
            check_kubeconfig(text)
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("in_cluster") and not cleaned.get("kubeconfig") and "kubeconfig" not in self.errors:
            self.add_error("kubeconfig", "give a kubeconfig, or tick in-cluster to use the service's own account")
        return cleaned


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterForm
    list_display = ("name", "in_cluster", "kubeconfig_state", "project_count", "created_at")
    list_filter = ("in_cluster",)
    search_fields = ("name",)
    fields = ("name", "in_cluster", "kubeconfig", "clear_kubeconfig", "created_at")
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cluster]:
        return super().get_queryset(request).annotate(_projects=Count("projects"))

    @admin.display(description="kubeconfig")
    def kubeconfig_state(self, obj: Cluster) -> str:
        return is_set(obj.kubeconfig)

    @admin.display(description="projects", ordering="_projects")
    def project_count(self, obj: Cluster) -> int:
        return obj._projects  # type: ignore[attr-defined]
