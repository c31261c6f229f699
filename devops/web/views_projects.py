"""The dashboard, a project's page, a pipeline's page and the Run button.

Reads go through ``devops.access`` and the execution selectors (a viewer sees, a member runs);
writes go through the services the API uses (``create_project``, ``run_pipeline``), so a page can
never do what the API would refuse.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from rest_framework import serializers

from devops import services
from devops.access import Role, visible_projects
from devops.api.pipelines_serializers import ref_name
from devops.api.projects_serializers import validate_dns_label
from devops.execution_selectors import visible_executions
from devops.models import ImageTrigger, Pipeline, PipelineSchedule
from devops.pipeline_config import PipelineConfigError
from devops.pipeline_services import run_pipeline
from devops.scm.base import ProviderError
from devops.scm.registration import webhook_url
from devops.triggers import TriggerError
from devops.web.views_pages import (
    EXECUTIONS_PER_PAGE,
    access_page,
    decorate_executions,
    pipeline_for,
    pipelines_with_last_run,
    project_for,
    roles_by_project,
    safe_next,
)

RECENT_EXECUTIONS = 15


def _abilities(role: Role | None) -> dict[str, object]:
    """What the templates may offer: buttons a role cannot use are not shown at all."""
    return {
        "role_name": role.name.lower() if role else "",
        "can_run": role is not None and role >= Role.MEMBER,
        "can_manage": role is not None and role >= Role.OWNER,
    }


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every project the user sees with its pipelines; with none, the form to create the first one."""
    projects = list(visible_projects(request.user).order_by("name"))
    roles = roles_by_project(request.user, [p.pk for p in projects])
    pipelines = pipelines_with_last_run(
        Pipeline.objects.filter(project_id__in=[p.pk for p in projects]), timezone.now()
    )
    by_project: dict[int, list[Pipeline]] = {}
    for pipeline in pipelines:
        by_project.setdefault(pipeline.project_id, []).append(pipeline)
    rows = [{"project": p, "pipelines": by_project.get(p.pk, []), **_abilities(roles.get(p.pk))} for p in projects]
    return render(request, "web/projects_dashboard.html", {"rows": rows})


@require_POST
@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    """Anyone signed in may create a project and becomes its owner (as in the API)."""
    name = request.POST.get("name", "").strip()
    display_name = request.POST.get("display_name", "").strip()[:200]
    try:
        validate_dns_label(name, 50)
        project = services.create_project(owner=request.user, name=name, display_name=display_name)
    except serializers.ValidationError as exc:
        messages.error(request, f"Project name: {' '.join(str(e) for e in exc.detail)}")
        return redirect(safe_next(request, "/"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(safe_next(request, "/"))
    messages.success(request, f"Project {project.name} created; you are its owner. Add a pipeline next.")
    return redirect(f"/projects/{project.pk}/")


@require_GET
@login_required
@access_page
def project_detail(request: HttpRequest, project_id: str) -> HttpResponse:
    project, role = project_for(request, project_id, Role.VIEWER)
    pipelines = pipelines_with_last_run(Pipeline.objects.filter(project=project), timezone.now())
    recent = visible_executions(request.user).filter(project=project)[:RECENT_EXECUTIONS]
    context = {
        "project": project,
        **_abilities(role),
        "pipelines": pipelines,
        "executions": decorate_executions(recent, timezone.now()),
    }
    return render(request, "web/projects_detail.html", context)


@require_GET
@login_required
@access_page
def pipeline_detail(request: HttpRequest, pipeline_id: str) -> HttpResponse:
    pipeline, role = pipeline_for(request, pipeline_id, Role.VIEWER)
    (pipeline,) = pipelines_with_last_run(
        Pipeline.objects.filter(pk=pipeline.pk).select_related("credential"), timezone.now()
    )
    executions = visible_executions(request.user).filter(pipeline=pipeline)
    page = Paginator(executions, EXECUTIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "project": pipeline.project,
        "pipeline": pipeline,
        **_abilities(role),
        "webhook_url": webhook_url(pipeline),
        "schedules": PipelineSchedule.objects.filter(pipeline=pipeline).order_by("id"),
        "image_triggers": ImageTrigger.objects.filter(pipeline=pipeline).order_by("id"),
        "page": page,
        "executions": decorate_executions(page.object_list, timezone.now()),
    }
    return render(request, "web/pipeline_detail.html", context)


@require_POST
@login_required
@access_page
def pipeline_run(request: HttpRequest, pipeline_id: str) -> HttpResponse:
    """The Run button (member): start a manual execution of the branch and open it; a refusal (no
    pipeline file, branch filtered, bad branch name, provider down) is a message on the page it came from."""
    pipeline, _ = pipeline_for(request, pipeline_id, Role.MEMBER)
    back = safe_next(request, f"/pipelines/{pipeline.pk}/")
    branch = request.POST.get("branch", "").strip()
    try:
        if branch:
            ref_name(branch, "branch")
        execution = run_pipeline(pipeline, user_id=request.user.pk, branch=branch or None)
    except serializers.ValidationError as exc:
        messages.error(request, f"Cannot run {pipeline.name}: {' '.join(str(e) for e in exc.detail)}")
        return redirect(back)
    except PipelineConfigError as exc:
        found = "; ".join(str(error) for error in exc.errors[:5])
        messages.error(request, f"Cannot run {pipeline.name}: the pipeline file has errors: {found}")
        return redirect(back)
    except (TriggerError, ProviderError) as exc:
        messages.error(request, f"Cannot run {pipeline.name}: {exc}")
        return redirect(back)
    return redirect(f"/executions/{execution.pk}/")
