"""Pipelines (with their schedules and image triggers inline) and project pipeline templates.

The webhook secret is never a field here, and the columns the service keeps (run counter, last run,
remote webhook id, polling state) are read-only: ``Pipeline.save`` leaves them alone anyway.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from devops.api.pipelines_serializers import check_repository_url, ref_name
from devops.models import Pipeline, PipelineSchedule, PipelineTemplate
from devops.schedules import delete_schedule, save_schedule
from devops.scm.base import ProviderError
from devops.scm.registration import webhook_url
from devops.scm.registry import provider_class

from .common import api_rule
from .triggers import ImageTriggerInline, PipelineScheduleInline

_SERVICE_FIELDS = (
    "next_run", "last_run_state", "last_run_at", "remote_webhook_id", "webhook_endpoint", "poll_state",
    "polled_at", "scheduled_nodes", "created_at",
)  # fmt: skip


class PipelineForm(forms.ModelForm):
    class Meta:
        model = Pipeline
        fields = (
            "project", "name", "repository_url", "provider", "credential", "default_branch",
            "trigger_push", "trigger_pull_request", "trigger_tag", "poll",
        )  # fmt: skip

    def clean_repository_url(self) -> str:
        # Staff may use local paths and file:// (they own the host); tokens in the URL are refused.
        url = self.cleaned_data.get("repository_url") or ""
        try:
            return api_rule(check_repository_url, url, local_allowed=True)
        except forms.ValidationError:
            if "@" in url:  # it may hold a password: the page must not show it back
                self.data = self.data.copy()
                self.data[self.add_prefix("repository_url")] = ""
            raise

    def clean_default_branch(self) -> str:
        return api_rule(ref_name, self.cleaned_data.get("default_branch") or "", "branch")

    def clean(self) -> dict[str, Any]:
        """(project, name) is unique; Django checks it only while the project is a field of the form,
        and it is read-only on a change page."""
        cleaned = super().clean()
        project = cleaned.get("project") or (self.instance.project if self.instance.project_id else None)
        name = cleaned.get("name")
        if project is not None and name:
            clash = Pipeline.objects.filter(project=project, name=name).exclude(pk=self.instance.pk)
            if clash.exists() and "name" not in self.errors:
                self.add_error("name", f"this project already has a pipeline named {name!r}")
        self._check_credential(cleaned)
        return cleaned

    def _check_credential(self, cleaned: dict[str, Any]) -> None:
        """The credential must be for the pipeline's provider, and that provider must understand the URL."""
        credential, provider, url = cleaned.get("credential"), cleaned.get("provider"), cleaned.get("repository_url")
        if credential is None or not provider:
            return
        if credential.provider != provider:
            self.add_error(
                "credential", f"this credential is for {credential.provider}; the pipeline's provider is {provider}"
            )
            return
        cls = provider_class(provider)
        if cls.has_api and url:
            try:
                cls(credential.host).repo_path(url)
            except (ProviderError, ValueError) as exc:
                self.add_error("repository_url", str(exc))


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    form = PipelineForm
    list_display = ("name", "project", "provider", "repository_url", "last_run_state", "last_run_at")
    list_filter = ("project", "provider", "last_run_state")
    search_fields = ("name", "repository_url", "project__name")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)
    readonly_fields = _SERVICE_FIELDS
    inlines = (PipelineScheduleInline, ImageTriggerInline)
    fieldsets = (
        (None, {"fields": ("project", "name", "repository_url", "provider", "credential", "default_branch")}),
        ("Triggers", {"fields": ("trigger_push", "trigger_pull_request", "trigger_tag", "poll")}),
        ("Kept by the service", {"fields": _SERVICE_FIELDS, "classes": ("collapse",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Pipeline | None = None) -> tuple[str, ...]:
        # A pipeline stays in its project: its executions (and their quota) are counted there.
        return ("project", *_SERVICE_FIELDS) if obj is not None else _SERVICE_FIELDS

    @admin.display(description="webhook URL")
    def webhook_endpoint(self, obj: Pipeline) -> str:
        return webhook_url(obj) if obj.pk else "-"

    @admin.display(description="polled heads")
    def poll_state(self, obj: Pipeline) -> str:
        heads = obj.polled_heads or {}
        return f"{len(heads)} refs" if heads else "-"

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        """Schedules are saved and deleted through ``devops.schedules`` so their beat tasks follow."""
        if formset.model is not PipelineSchedule:
            super().save_formset(request, form, formset, change)
            return
        instances: list[Any] = formset.save(commit=False)
        for schedule in formset.deleted_objects:
            delete_schedule(schedule)
        for schedule in instances:
            save_schedule(schedule)
        formset.save_m2m()


@admin.register(PipelineTemplate)
class PipelineTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "project")
    list_filter = ("project",)
    search_fields = ("name", "project__name")
    list_select_related = ("project",)
