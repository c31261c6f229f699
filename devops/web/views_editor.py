"""The visual pipeline editor: forms and YAML kept in sync through two small JSON endpoints.

``parse.json`` turns the YAML into the editor's model (or every error with its line and the path of
the field it is about); ``render.json`` turns the model back into YAML and checks it the same way. Both
use the real parser with the project's templates (``devops.web.editor_model``), so the editor never
disagrees with what a run would do. Members use the editor and "Run once" (the API's temporary
config run); saving commits through the provider and is for owners (``devops.web.editor_save``).
"""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from devops import config_commits
from devops.access import NotAllowed, NotVisible, Role, require, visible_project_ids
from devops.models import Pipeline
from devops.pipeline_config import EVENTS
from devops.scm.base import ProviderError
from devops.triggers import NoPipelineFile, TriggerError, project_templates, resolve_source

from .editor_model import STARTER, ModelError, parse_for_editor, render_for_editor
from .editor_save import save_support

log = logging.getLogger(__name__)
DEFAULT_FILE = ".devops.yml"
MAX_ID = 2**63 - 1  # beyond a bigint no row exists (and the database would refuse the query)


def _pipeline(request: HttpRequest, pk: int, role: Role) -> tuple[Pipeline, Role]:
    """The pipeline if the user sees its project (404 otherwise) and has ``role`` there (403)."""
    pipeline = (
        Pipeline.objects.filter(pk=pk, project_id__in=visible_project_ids(request.user))
        .select_related("project", "credential")
        .first()
        if pk <= MAX_ID
        else None
    )
    if pipeline is None:
        raise Http404("no such pipeline")
    try:
        have = require(request.user, pipeline.project_id, role)
    except NotVisible:
        raise Http404("no such pipeline") from None
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    return pipeline, have


def _body(request: HttpRequest) -> dict[str, Any]:
    """A JSON object body, or the form fields; anything else is the client's mistake (400)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise _BadRequest("the body must be a JSON object")
        return data
    return request.POST.dict()


class _BadRequest(Exception):
    pass


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=400)


@login_required
@require_GET
def editor(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline, role = _pipeline(request, pk, Role.MEMBER)
    branch = pipeline.default_branch
    notice, load_error, base_commit, file_name = "", "", "", DEFAULT_FILE
    text = STARTER
    try:
        source = resolve_source(pipeline, branch=branch)
        text, file_name, base_commit = source.config_text, source.config_name or DEFAULT_FILE, source.sha
    except NoPipelineFile:
        notice = f"There is no pipeline file on {branch} yet: start from this example, then run it once or save it."
    except (TriggerError, ProviderError, subprocess.TimeoutExpired) as exc:
        load_error = f"Could not read the pipeline file on {branch}: {exc}. Showing an example instead."
        log.info("editor could not read pipeline %s: %s", pipeline.pk, exc)
    initial = parse_for_editor(text, project_templates(pipeline.project_id))
    support = save_support(pipeline, request.user, role)
    context = {
        "pipeline": pipeline,
        "project": pipeline.project,
        "branch": branch,
        "file_name": file_name,
        "base_commit": base_commit,
        "notice": notice,
        "load_error": load_error,
        "initial": initial.to_dict(),
        "events": list(EVENTS),
        "can_save": support.enabled,
        "save_reason": support.reason,
    }
    return render(request, "web/editor.html", context)


@login_required
@require_POST
def editor_parse(request: HttpRequest, pk: int) -> JsonResponse:
    pipeline, _ = _pipeline(request, pk, Role.MEMBER)
    try:
        text = _body(request).get("yaml")
    except _BadRequest as exc:
        return _bad(str(exc))
    if not isinstance(text, str):
        return _bad("'yaml' must be the pipeline file's text")
    return JsonResponse(parse_for_editor(text, project_templates(pipeline.project_id)).to_dict())


@login_required
@require_POST
def editor_render(request: HttpRequest, pk: int) -> JsonResponse:
    pipeline, _ = _pipeline(request, pk, Role.MEMBER)
    try:
        model = _body(request).get("model")
        if isinstance(model, str):
            model = json.loads(model)
        result = render_for_editor(model, project_templates(pipeline.project_id))
    except (_BadRequest, ModelError, ValueError) as exc:
        return _bad(f"the model is not shaped as the editor sends it: {exc}")
    return JsonResponse(result.to_dict())


@login_required
@require_POST
def editor_save(request: HttpRequest, pk: int) -> JsonResponse:
    pipeline, role = _pipeline(request, pk, Role.MEMBER)
    support = save_support(pipeline, request.user, role)
    if not support.enabled:
        return JsonResponse({"detail": support.reason}, status=403 if role < Role.OWNER else 409)
    try:
        data = _body(request)
    except _BadRequest as exc:
        return _bad(str(exc))
    text, path = data.get("yaml"), data.get("path") or DEFAULT_FILE
    message = (data.get("message") or "").strip() or "Update the pipeline file"
    if not isinstance(text, str) or not isinstance(path, str) or not isinstance(message, str):
        return _bad("'yaml', 'path' and 'message' must be strings")
    checked = parse_for_editor(text, project_templates(pipeline.project_id))
    if not checked.valid:
        return JsonResponse({"detail": "fix the errors before saving", "errors": checked.errors}, status=400)
    base = data.get("base_commit")
    try:
        sha = config_commits.save_pipeline_file(
            pipeline,
            request.user,
            text,
            path=path,
            message=message,
            base_commit=base if isinstance(base, str) else None,
        )
    except config_commits.CannotSave as exc:
        return JsonResponse({"detail": exc.message}, status=403)
    except ProviderError as exc:
        status = getattr(exc, "status", None)
        code = 409 if status in (409, 422) else 403 if status == 403 else 502
        return JsonResponse({"detail": str(exc)}, status=code)
    return JsonResponse({"commit": sha, "branch": pipeline.default_branch, "path": path})
