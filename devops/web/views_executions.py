"""The execution page: header, stages as columns, live state (``status.json``), Abort and Rerun.

Reads go through ``devops.execution_selectors`` (only executions of the user's projects, so a foreign
id is a 404 like a missing one); writes go through the engine, the same calls the API makes. The
page polls ``status.json`` once a second until the execution is final, and a step's log is followed
through the API's event stream (``/api/v1/executions/<id>/logs/<stage>/<step>/?follow=1``), which
session authentication serves same-origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from devops import engine
from devops.access import NotAllowed, NotVisible, Role, require, role_of
from devops.execution_selectors import executions_with_units, stages_of
from devops.models import PipelineExecution
from devops.pipeline_services import TEMPORARY_CONFIG_NAME
from devops.states import FINAL_STATES

KIND_LABELS = {
    "sourceCode": "clone",
    "runScript": "script",
    "publishImage": "publish image",
    "applyYaml": "apply YAML",
    "applyApp": "apply app",
}


MAX_ID = 2**63 - 1  # beyond a bigint no row exists (and the database would refuse the query)


def _execution(request: HttpRequest, pk: int) -> PipelineExecution:
    """The execution if the user may see it; 404 otherwise (a foreign one looks missing)."""
    execution = executions_with_units(request.user).filter(pk=pk).first() if pk <= MAX_ID else None
    if execution is None:
        raise Http404("no such execution")
    return execution


def _require(request: HttpRequest, execution: PipelineExecution, role: Role) -> None:
    try:
        require(request.user, execution.project_id, role)
    except NotVisible:
        raise Http404("no such execution") from None
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None


def seconds_between(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    """How long something ran: to its end, or until now while it runs; None before it started."""
    if start is None:
        return None
    return max(0.0, ((end or now) - start).total_seconds())


def format_duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 07s``, ``12s``: the same wording execution.js uses when it updates."""
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status_payload(execution: PipelineExecution) -> dict[str, Any]:
    """Everything the page updates without a reload; states, timings, exit codes and reasons."""
    now = timezone.now()
    stages = []
    for stage in stages_of(execution):
        steps = [
            {
                "index": step.index,
                "name": step.name,
                "kind": step.kind,
                "state": step.state,
                "exit_code": step.exit_code,
                "reason": step.reason,
                "started_at": _iso(step.started_at),
                "ended_at": _iso(step.ended_at),
                "duration": seconds_between(step.started_at, step.ended_at, now),
            }
            for step in stage.steps
        ]
        stages.append(
            {
                "index": stage.index,
                "name": stage.name,
                "state": stage.state,
                "started_at": _iso(stage.started_at),
                "ended_at": _iso(stage.ended_at),
                "duration": seconds_between(stage.started_at, stage.ended_at, now),
                "steps": steps,
            }
        )
    return {
        "id": execution.pk,
        "run": execution.run,
        "state": execution.state,
        "reason": execution.reason,
        "final": execution.state in FINAL_STATES,
        "now": now.isoformat(),
        "created_at": _iso(execution.created_at),
        "started_at": _iso(execution.started_at),
        "ended_at": _iso(execution.ended_at),
        "duration": seconds_between(execution.started_at, execution.ended_at, now),
        "stages": stages,
    }


def _trigger_text(execution: PipelineExecution) -> str:
    """Who or what started it, in words: "alice", "webhook", "cron schedule", "image push"."""
    if execution.triggered_by is not None:
        return execution.triggered_by.get_username()
    return {
        "user": "a user",
        "webhook": "webhook",
        "cron": "cron schedule",
        "image": "image push",
        "poll": "repository poll",
    }.get(execution.trigger_type, execution.trigger_type)


@login_required
@require_GET
def execution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    execution = _execution(request, pk)
    role = role_of(request.user, execution.project_id)
    now = timezone.now()
    stages = stages_of(execution)
    for stage in stages:
        for step in stage.steps:
            step.kind_label = KIND_LABELS.get(step.kind, step.kind)  # type: ignore[attr-defined]
            step.duration_text = format_duration(  # type: ignore[attr-defined]
                seconds_between(step.started_at, step.ended_at, now)
            )
    message = execution.message.strip()
    context = {
        "execution": execution,
        "pipeline": execution.pipeline,
        "project": execution.project,
        "stages": stages,
        "is_final": execution.state in FINAL_STATES,
        "can_run": role is not None and role >= Role.MEMBER,
        "can_edit": role is not None and role >= Role.MEMBER,
        "short_sha": execution.commit[:7],
        "subject": message.splitlines()[0] if message else "",
        "message_body": message.partition("\n")[2].strip(),
        "trigger_text": _trigger_text(execution),
        "duration_text": format_duration(seconds_between(execution.started_at, execution.ended_at, now)),
        "temporary_config": execution.config_file == TEMPORARY_CONFIG_NAME,
        "status": status_payload(execution),
    }
    return render(request, "web/execution.html", context)


@login_required
@require_GET
@never_cache
def execution_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(status_payload(_execution(request, pk)))


@login_required
@require_POST
def execution_abort(request: HttpRequest, pk: int) -> HttpResponse:
    execution = _execution(request, pk)
    _require(request, execution, Role.MEMBER)
    if execution.state in FINAL_STATES or not engine.abort(execution.pk, f"aborted by {request.user.get_username()}"):
        execution.refresh_from_db(fields=["state"])
        messages.info(request, f"This execution is already {execution.state}; there is nothing to abort.")
    else:
        messages.success(request, f"Run #{execution.run} was aborted.")
    return redirect("web-execution", pk=execution.pk)


@login_required
@require_POST
def execution_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    execution = _execution(request, pk)
    _require(request, execution, Role.MEMBER)
    new = engine.rerun(PipelineExecution.objects.get(pk=execution.pk), triggered_by_id=request.user.pk)
    messages.success(request, f"Run #{new.run} started again from run #{execution.run}'s commit and config.")
    return redirect("web-execution", pk=new.pk)
