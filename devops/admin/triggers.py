"""What starts executions without a person: schedules and image triggers (edited inline on a pipeline)
and webhook deliveries (read-only: the answer to "why did this not build?")."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from devops.api.pipelines_serializers import ImageTriggerSerializer, ref_name
from devops.models import ImageTrigger, PipelineSchedule, WebhookDelivery
from devops.schedules import parse_cron

from .common import ReadOnlyAdminMixin, api_rule


class PipelineScheduleForm(forms.ModelForm):
    """Checks the cron and timezone here so a bad one is a message on its field; the save itself goes
    through ``devops.schedules.save_schedule`` (see ``PipelineAdmin.save_formset``)."""

    class Meta:
        model = PipelineSchedule
        fields = ("cron", "branch", "timezone", "enabled")

    def clean_cron(self) -> str:
        cron = self.cleaned_data.get("cron") or ""
        try:
            parse_cron(cron)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return cron

    def clean_branch(self) -> str:
        branch = self.cleaned_data.get("branch") or ""
        return api_rule(ref_name, branch, "branch") if branch else ""

    def clean_timezone(self) -> str:
        name = (self.cleaned_data.get("timezone") or "UTC").strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"unknown timezone {name!r}: expected an IANA name such as UTC or Europe/Berlin"
            ) from None
        return name


class PipelineScheduleInline(admin.TabularInline):
    model = PipelineSchedule
    form = PipelineScheduleForm
    extra = 0
    fields = ("cron", "branch", "timezone", "enabled", "beat_task")
    readonly_fields = ("beat_task",)

    @admin.display(description="beat task")
    def beat_task(self, obj: PipelineSchedule) -> str:
        if not obj or not obj.periodic_task_id:
            return "-"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[obj.periodic_task_id])
        return format_html('<a href="{}">periodic task {}</a>', url, obj.periodic_task_id)


class ImageTriggerForm(forms.ModelForm):
    """The API's checks: globs of the characters image names and tags use, a branch git accepts."""

    class Meta:
        model = ImageTrigger
        fields = ("image", "tag", "branch", "enabled")

    def clean_image(self) -> str:
        return api_rule(ImageTriggerSerializer().validate_image, self.cleaned_data.get("image") or "")

    def clean_tag(self) -> str:
        return api_rule(ImageTriggerSerializer().validate_tag, self.cleaned_data.get("tag") or "*")

    def clean_branch(self) -> str:
        branch = self.cleaned_data.get("branch") or ""
        return api_rule(ref_name, branch, "branch") if branch else ""


class ImageTriggerInline(admin.TabularInline):
    model = ImageTrigger
    form = ImageTriggerForm
    extra = 0
    fields = ("image", "tag", "branch", "enabled")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Deletable so a pipeline (which cascades here) can be deleted from the admin.
    allow_delete = True
    list_display = ("delivery_id", "pipeline", "source", "event", "outcome", "short_reason", "received_at")
    list_filter = ("source", "outcome")
    search_fields = ("delivery_id", "pipeline__name")
    list_select_related = ("pipeline__project",)
    date_hierarchy = "received_at"
    fields = (
        "pipeline", "source", "delivery_id", "event", "outcome", "reason", "execution_link", "payload",
        "received_at", "processed_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="reason")
    def short_reason(self, obj: WebhookDelivery) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    @admin.display(description="execution")
    def execution_link(self, obj: WebhookDelivery) -> str:
        if not obj.execution_id:
            return "-"
        url = reverse("admin:devops_pipelineexecution_change", args=[obj.execution_id])
        return format_html('<a href="{}">execution {}</a>', url, obj.execution_id)
