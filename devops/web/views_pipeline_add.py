"""Adding a pipeline (owners): pick one of the user's synced repositories, or type a clone URL.

A synced repository brings its provider, the user's credential and its default branch, so the
pipeline can register its webhook (``pipeline_services.create_pipeline`` enqueues that on commit). A
typed URL is plain git: the push/tag triggers then need the generic webhook or polling. The input is
checked by the API's own ``PipelineSerializer`` so the page accepts exactly what the API accepts.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from devops.access import Role
from devops.api.pipelines_serializers import PipelineSerializer
from devops.models import Project, SourceCodeCredential, SourceCodeRepository
from devops.models.scm import Provider
from devops.pipeline_services import create_pipeline
from devops.scm.base import ProviderError
from devops.scm.credentials import sync_repositories
from devops.scm.registry import provider_class
from devops.web.views_pages import access_page, enabled_sign_in_providers, project_for

MAX_LISTED = 200
TRIGGERS = (
    ("trigger_push", "Push", "Build every push to a branch."),
    ("trigger_pull_request", "Pull request", "Build pull/merge requests (without project secrets)."),
    ("trigger_tag", "Tag", "Build every new tag."),
    ("poll", "Polling", "Check the repository for new commits every few minutes (plain git, no webhook)."),
)
DEFAULT_TRIGGERS = frozenset({"trigger_push", "trigger_pull_request", "trigger_tag"})
_FIELD_OF = {"repository_url": "source", "credential": "source", "provider": "source", "project": "source"}


def name_from_url(url: str) -> str:
    """``https://host/team/api.git`` -> ``api``: a name the user rarely needs to change."""
    last = re.split(r"[/:]", url.rstrip("/"))[-1]
    return slugify(last.removesuffix(".git"))[:100]


def _repositories(request: HttpRequest, query: str) -> list[SourceCodeRepository]:
    rows = SourceCodeRepository.objects.filter(credential__user_id=request.user.pk).select_related("credential")
    if query:
        rows = rows.filter(url__icontains=query[:200])
    return list(rows.order_by("url", "id")[:MAX_LISTED])


def _api_credentials(request: HttpRequest) -> list[SourceCodeCredential]:
    """The user's credentials that can list repositories (plain git ones cannot)."""
    mine = SourceCodeCredential.objects.filter(user_id=request.user.pk).order_by("provider", "id")
    return [c for c in mine if provider_class(c.provider).has_api]


def _page(
    request: HttpRequest, project: Project, *, values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    query = request.GET.get("q", "").strip()
    values = values or {"triggers": DEFAULT_TRIGGERS}
    context = {
        "project": project,
        "repositories": _repositories(request, query),
        "max_listed": MAX_LISTED,
        "query": query,
        "credentials": _api_credentials(request),
        "providers": enabled_sign_in_providers(),
        "triggers": [(key, label, help, key in values.get("triggers", ())) for key, label, help in TRIGGERS],
        "values": values,
        "errors": errors or {},
    }
    return render(request, "web/pipeline_add.html", context, status=status)


def _source_fields(request: HttpRequest, values: dict[str, Any]) -> dict[str, Any]:
    """Provider, credential, URL and default branch from the picked row or the typed URL."""
    picked = values["repository"]
    if picked and picked != "url":
        row = None
        if picked.isascii() and picked.isdigit() and len(picked) <= 18:
            row = (
                SourceCodeRepository.objects.filter(pk=int(picked), credential__user_id=request.user.pk)
                .select_related("credential")
                .first()
            )
        if row is None:
            raise ValidationError({"source": ["that repository is not in your synced list; refresh it and pick again"]})
        return {
            "repository_url": row.clone_url or row.url,
            "provider": row.credential.provider,
            "credential": row.credential_id,
            "default_branch": values["default_branch"] or row.default_branch,
        }
    if not values["url"]:
        raise ValidationError({"source": ["pick one of your repositories or enter a clone URL"]})
    return {
        "repository_url": values["url"],
        "provider": Provider.GIT,
        "credential": None,
        "default_branch": values["default_branch"] or "main",
    }


@require_http_methods(["GET", "POST"])
@login_required
@access_page
def pipeline_add(request: HttpRequest, project_id: str) -> HttpResponse:
    project, _ = project_for(request, project_id, Role.OWNER)
    if request.method == "GET":
        return _page(request, project)
    post = request.POST
    values = {
        "repository": post.get("repository", "").strip(),
        "url": post.get("url", "").strip(),
        "name": post.get("name", "").strip(),
        "default_branch": post.get("default_branch", "").strip(),
        "triggers": {key for key, *_ in TRIGGERS if post.get(key)},
    }
    try:
        source = _source_fields(request, values)
    except ValidationError as exc:
        return _page(request, project, values=values, errors=exc.message_dict, status=400)
    data = {
        **source,
        "project": project.pk,
        "name": values["name"] or name_from_url(source["repository_url"]),
        **{key: key in values["triggers"] for key, *_ in TRIGGERS},
    }
    serializer = PipelineSerializer(data=data, context={"request": request})
    if not serializer.is_valid():
        errors: dict[str, list[str]] = {}
        for field, problems in serializer.errors.items():
            errors.setdefault(_FIELD_OF.get(field, field), []).extend(str(p) for p in problems)
        return _page(request, project, values=values, errors=errors, status=400)
    fields = {
        k: v for k, v in serializer.validated_data.items() if k not in ("project_id", "schedules", "image_triggers")
    }
    try:
        pipeline = create_pipeline(project, fields)
    except ValidationError as exc:
        return _page(request, project, values=values, errors=exc.message_dict, status=400)
    hook = " Its webhook is being registered with the provider." if pipeline.credential_id else ""
    messages.success(request, f"Pipeline {pipeline.name} added.{hook} Press Run to start its first execution.")
    return redirect(f"/pipelines/{pipeline.pk}/")


@require_POST
@login_required
@access_page
def repositories_refresh(request: HttpRequest, project_id: str) -> HttpResponse:
    """Sync the user's repositories from their providers now (the same sync a sign-in enqueues)."""
    project, _ = project_for(request, project_id, Role.OWNER)
    total = 0
    for credential in _api_credentials(request):
        try:
            total += sync_repositories(credential.pk)
        except ProviderError as exc:
            messages.error(request, f"{credential.provider} ({credential.login}): {exc}")
    messages.info(request, f"{total} repositories you administer are listed.")
    return redirect(f"/projects/{project.pk}/pipelines/add/")
