"""Executions: read-only, with stage and step states inline, and the two things an operator does to
one: abort it and run it again (``devops.engine``; as list actions and as buttons on its page)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from devops import engine
from devops.models import PipelineExecution, StageRun, StepRun
from devops.states import FINAL_STATES

from .common import ReadOnlyAdminMixin, ReadOnlyTabularInline

_TRIGGER_FIELDS = (
    "trigger_type", "triggered_by", "event", "repository_url", "branch", "ref", "tag", "commit", "message", "author",
    "config_file", "rerun_of",
)  # fmt: skip


def _duration(start: object, end: object) -> str:
    if start is None:
        return "-"
    seconds = int(((end or timezone.now()) - start).total_seconds())  # type: ignore[operator]
    return str(timedelta(seconds=max(seconds, 0)))


class StageRunInline(ReadOnlyTabularInline):
    model = StageRun
    fields = ("index", "name", "state", "started_at", "ended_at", "duration")
    readonly_fields = fields

    @admin.display(description="duration")
    def duration(self, obj: StageRun) -> str:
        return _duration(obj.started_at, obj.ended_at)


class StepRunInline(ReadOnlyTabularInline):
    model = StepRun
    fields = ("stage_index", "index", "name", "kind", "state", "exit_code", "started_at", "ended_at", "reason", "log")
    readonly_fields = fields

    @admin.display(description="log")
    def log(self, obj: StepRun) -> str:
        """The step's log through the API (masked like every reader's; staff may read every project)."""
        if not obj or not obj.pk or not obj.log_key:
            return "-"
        try:
            url = reverse(
                "execution-logs", kwargs={"pk": obj.execution_id, "stage": obj.stage_index, "step": obj.index}
            )
        except NoReverseMatch:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">log</a>', url)


def abort_executions(request: HttpRequest, queryset: QuerySet[PipelineExecution]) -> tuple[list[str], list[str]]:
    """Abort each; returns (aborted, already final) as ``pipeline #run`` labels for the message."""
    reason = f"aborted by {request.user.get_username()} (admin)"
    done: list[str] = []
    skipped: list[str] = []
    for execution in queryset.select_related("pipeline"):
        label = f"{execution.pipeline.name} #{execution.run}"
        (done if engine.abort(execution.pk, reason) else skipped).append(label)
    return done, skipped


def rerun_executions(request: HttpRequest, queryset: QuerySet[PipelineExecution]) -> list[PipelineExecution]:
    return [
        engine.rerun(execution, triggered_by_id=request.user.pk) for execution in queryset.select_related("pipeline")
    ]


@admin.register(PipelineExecution)
class PipelineExecutionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    allow_delete = True
    list_display = ("label", "pipeline", "run", "state", "event", "branch", "short_commit", "created_at", "duration")
    list_display_links = ("label",)
    list_filter = ("state", "event", "trigger_type", "project")
    search_fields = ("pipeline__name", "commit", "branch", "tag")
    list_select_related = ("pipeline__project",)
    date_hierarchy = "created_at"
    actions = ("abort_selected", "rerun_selected")
    fieldsets = (
        (None, {"fields": ("operator_actions", "pipeline", "project", "run", "state", "reason", "node")}),
        ("Trigger", {"fields": _TRIGGER_FIELDS}),
        ("Timing", {"fields": ("created_at", "admitted_at", "started_at", "ended_at", "duration", "heartbeat_at")}),
        ("Config snapshot", {"fields": ("config_snapshot", "extra_env"), "classes": ("collapse",)}),
    )
    readonly_fields = ("operator_actions", "duration", "config_snapshot")
    inlines = (StageRunInline, StepRunInline)

    def get_readonly_fields(self, request: HttpRequest, obj: PipelineExecution | None = None) -> list[str]:
        return [name for _, options in self.fieldsets for name in options["fields"]]

    # --- columns --------------------------------------------------------------------------------------------
    @admin.display(description="execution", ordering="id")
    def label(self, obj: PipelineExecution) -> str:
        return f"{obj.pipeline.name} #{obj.run}"

    @admin.display(description="commit", ordering="commit")
    def short_commit(self, obj: PipelineExecution) -> str:
        return obj.commit[:8]

    @admin.display(description="config")
    def config_snapshot(self, obj: PipelineExecution) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.config, indent=2, sort_keys=True))

    @admin.display(description="duration")
    def duration(self, obj: PipelineExecution) -> str:
        return _duration(obj.started_at, obj.ended_at)

    @admin.display(description="actions")
    def operator_actions(self, obj: PipelineExecution) -> SafeString | str:
        """Buttons that post the page's own form (it carries the CSRF token) to the action URLs."""
        if not obj or not obj.pk:
            return "-"
        buttons = [("rerun", "Run again")]
        if obj.state not in FINAL_STATES:
            buttons.insert(0, ("abort", "Abort"))
        return format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" formmethod="post">{}</button>',
            ((reverse(f"admin:devops_pipelineexecution_{name}", args=[obj.pk]), label) for name, label in buttons),
        )

    def has_delete_permission(self, request: HttpRequest, obj: PipelineExecution | None = None) -> bool:
        """A finished execution may go (also with its pipeline or project); one that still runs must be
        aborted first, or its runner would report into rows that are gone."""
        if obj is not None and obj.state not in FINAL_STATES:
            return False
        return super().has_delete_permission(request, obj)

    # --- permissions: abort and rerun need the model's change permission (the admin never edits fields) -------
    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("devops.change_pipelineexecution")

    # --- list actions ---------------------------------------------------------------------------------------
    @admin.action(description="Abort selected executions", permissions=["operate"])
    def abort_selected(self, request: HttpRequest, queryset: QuerySet[PipelineExecution]) -> None:
        done, skipped = abort_executions(request, queryset)
        if done:
            self.message_user(request, f"Aborted {len(done)}: {', '.join(done)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Not aborted (already finished): {', '.join(skipped)}.", messages.WARNING)

    @admin.action(description="Run selected executions again", permissions=["operate"])
    def rerun_selected(self, request: HttpRequest, queryset: QuerySet[PipelineExecution]) -> None:
        made = rerun_executions(request, queryset)
        labels = ", ".join(f"{new.pipeline.name} #{new.run}" for new in made)
        self.message_user(request, f"Started {len(made)} new execution(s): {labels}.", messages.SUCCESS)

    # --- buttons on the change page -------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("<int:object_id>/abort/", wrap(self.abort_view), name="devops_pipelineexecution_abort"),
            path("<int:object_id>/rerun/", wrap(self.rerun_view), name="devops_pipelineexecution_rerun"),
        ]
        return own + super().get_urls()

    def _operate(self, request: HttpRequest, object_id: int) -> PipelineExecution | HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        return get_object_or_404(PipelineExecution.objects.select_related("pipeline"), pk=object_id)

    def _change_url(self, pk: int) -> str:
        return reverse("admin:devops_pipelineexecution_change", args=[pk])

    def abort_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        execution = self._operate(request, object_id)
        if isinstance(execution, HttpResponse):
            return execution
        done, _ = abort_executions(request, PipelineExecution.objects.filter(pk=execution.pk))
        if done:
            self.message_user(request, f"Aborted {done[0]}.", messages.SUCCESS)
        else:
            self.message_user(request, f"{execution} was already finished ({execution.state}).", messages.WARNING)
        return HttpResponseRedirect(self._change_url(execution.pk))

    def rerun_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        execution = self._operate(request, object_id)
        if isinstance(execution, HttpResponse):
            return execution
        new = rerun_executions(request, PipelineExecution.objects.filter(pk=execution.pk))[0]
        link = format_html('<a href="{}">{} #{}</a>', self._change_url(new.pk), new.pipeline.name, new.run)
        self.message_user(request, format_html("Started {}.", link), messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(new.pk))
