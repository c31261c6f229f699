"""What the sign-in, project, pipeline and settings pages share: access, rows and small formatting.

Access follows ``devops.access`` exactly like the API: someone outside a project gets a 404 (the
project does not exist for them), someone inside with too low a role gets a 403 page that says which
role is needed. Views stay thin: reads here and in the selectors, writes through the services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince

from devops.access import NotAllowed, NotVisible, Role, is_staff, require
from devops.models import Pipeline, PipelineExecution, Project, ProjectMember, SourceCodeProviderConfig

# Sign-in buttons: social-auth backend name -> (SourceCodeProviderConfig.provider, label), in button order.
SIGN_IN_BACKENDS = (("github", "github", "GitHub"), ("gitlab", "gitlab", "GitLab"),
                    ("bitbucket-oauth2", "bitbucket", "Bitbucket"))  # fmt: skip
EXECUTIONS_PER_PAGE = 25


def parse_id(value: str) -> int:
    """A path id as an int; anything else (too big for the column included) is simply not found."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Http404()
    return int(value)


def project_for(request: HttpRequest, project_id: str, role: Role) -> tuple[Project, Role]:
    """The project and the user's role in it, if at least ``role`` (NotVisible/NotAllowed otherwise)."""
    pk = parse_id(project_id)
    project = Project.objects.filter(pk=pk).first()
    if project is None:
        raise NotVisible()
    return project, require(request.user, pk, role)


def pipeline_for(request: HttpRequest, pipeline_id: str, role: Role) -> tuple[Pipeline, Role]:
    pipeline = Pipeline.objects.select_related("project", "credential").filter(pk=parse_id(pipeline_id)).first()
    if pipeline is None:
        raise NotVisible()
    return pipeline, require(request.user, pipeline.project_id, role)


def access_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn the access exceptions into pages: NotVisible is the site's 404, NotAllowed a 403 page that
    names the role needed (people who can see a project should learn why a page is closed to them)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotVisible:
            raise Http404() from None
        except NotAllowed as exc:
            return render(request, "web/projects_forbidden.html", {"reason": str(exc)}, status=403)

    return wrapper


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where to go back to after a POST: the ``next`` field when it points into this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def enabled_sign_in_providers() -> list[dict[str, str]]:
    """The "Sign in with ..." buttons to show: providers with an enabled configuration that has a
    client id (the same test the social backends apply, so a shown button never answers 403)."""
    enabled = set(
        SourceCodeProviderConfig.objects.filter(enabled=True).exclude(client_id="").values_list("provider", flat=True)
    )
    return [
        {"backend": backend, "provider": provider, "label": label}
        for backend, provider, label in SIGN_IN_BACKENDS
        if provider in enabled
    ]


def roles_by_project(user: Any, project_ids: Iterable[int]) -> dict[int, Role]:
    """The user's role in each project, in one query (staff are owners everywhere)."""
    ids = list(project_ids)
    if is_staff(user):
        return dict.fromkeys(ids, Role.OWNER)
    rows = ProjectMember.objects.filter(project_id__in=ids, user_id=user.pk).values_list("project_id", "role")
    return {project_id: Role.parse(role) for project_id, role in rows}


def pipelines_with_last_run(queryset: QuerySet[Pipeline], now: datetime) -> list[Pipeline]:
    """Pipelines with their newest execution (``last_execution_id``, ``last_state``, ``last_ago``) and
    ``known_branches`` (the run form's suggestions: the default branch and the branches recent
    executions ran), in two queries. The newest execution, not ``Pipeline.last_run_state``, which the
    engine sets only when a run ends: a pipeline that was just started shows Queueing, not "never run"."""
    newest = PipelineExecution.objects.filter(pipeline_id=OuterRef("pk")).order_by("-id")
    pipelines = list(
        queryset.annotate(
            last_execution_id=Subquery(newest.values("id")[:1]),
            last_execution_state=Subquery(newest.values("state")[:1]),
            last_execution_at=Subquery(newest.values("created_at")[:1]),
        ).order_by("name", "id")
    )
    branches: dict[int, set[str]] = {p.pk: {p.default_branch} for p in pipelines}
    recent = (
        PipelineExecution.objects.filter(pipeline_id__in=list(branches))
        .exclude(branch="")
        .order_by()
        .values_list("pipeline_id", "branch")
        .distinct()[:500]
    )
    for pipeline_id, branch in recent:
        branches[pipeline_id].add(branch)
    for pipeline in pipelines:
        pipeline.known_branches = sorted(branches[pipeline.pk])
        pipeline.last_state = pipeline.last_execution_state or pipeline.last_run_state
        pipeline.last_ago = ago(pipeline.last_execution_at or pipeline.last_run_at, now)
    return pipelines


def ago(moment: datetime | None, now: datetime) -> str:
    """``just now``, ``3 minutes ago``: how long ago, in the words people use for recent runs."""
    if moment is None:
        return ""
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


def duration_text(start: datetime | None, end: datetime | None, now: datetime | None = None) -> str:
    """``1m 05s``-style; a running execution counts up to ``now``; empty before it started."""
    if start is None:
        return ""
    if end is None:
        if now is None:
            return ""
        end = now
    seconds = max(0, int((end - start) / timedelta(seconds=1)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def decorate_executions(executions: Iterable[PipelineExecution], now: datetime) -> list[PipelineExecution]:
    """Add what the execution tables show but the row does not hold: duration, the message's first
    line and the short commit."""
    rows = list(executions)
    for execution in rows:
        execution.duration_text = duration_text(execution.started_at, execution.ended_at, now)
        lines = (execution.message or "").strip().splitlines()
        execution.message_line = lines[0] if lines else ""
        execution.commit_short = (execution.commit or "")[:7]
        execution.ago = ago(execution.created_at, now)
    return rows
