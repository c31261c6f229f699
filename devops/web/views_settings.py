"""A project's settings page (owners): pipeline settings, secrets, registry credentials and members.

Every form is checked by the API's own serializers and written by ``devops.services``, so the page
and the API accept and refuse the same things (request <= limit, last owner, unique names). A refused
form re-renders the page with the errors beside it (400) and nothing saved. Secret values and registry
passwords go one way only: they are never put back into a page, not even into a refused form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework import serializers

from devops import services
from devops.access import Role, role_of
from devops.api.projects_serializers import (
    ProjectMemberAddSerializer,
    ProjectMemberRoleSerializer,
    ProjectRegistrySerializer,
    ProjectSecretSerializer,
    ProjectSettingsPatchSerializer,
)
from devops.models import Project, ProjectMember, ProjectSecret, RegistryCredential
from devops.project_settings import MIRROR_VARIABLES, SETTINGS, as_bool, validate_bool, validate_settings
from devops.selectors import project_settings
from devops.web.views_pages import access_page, project_for

BOOLEAN_KEYS = frozenset(key for key, d in SETTINGS.items() if d.validate is validate_bool)
MULTILINE_KEYS = frozenset({"mirrors"})
SECTIONS = (
    ("Quota", ("executor-quota",)),
    ("Resources", ("executor-cpu-request", "executor-cpu-limit", "executor-memory-request", "executor-memory-limit")),
    ("Cache", ("cache-root", "cache-node-count")),
    ("Mirrors", ("mirrors",)),
)


def flatten(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested error detail as readable lines (``data.KEY: message``)."""
    if isinstance(detail, Mapping):
        lines = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else f"{prefix}{key}"
            lines.extend(flatten(value, f"{name}." if name else ""))
        return lines
    if isinstance(detail, list | tuple):
        return [line for item in detail for line in flatten(item, prefix)]
    label = prefix.rstrip(".")
    return [f"{label}: {detail}" if label else str(detail)]


def _setting_sections(values: Mapping[str, str], errors: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """The SETTINGS registry grouped for the page; keys no section names go under "Other"."""
    named = {key for _, keys in SECTIONS for key in keys}
    groups = [*SECTIONS, ("Images and scheduling", tuple(k for k in SETTINGS if k not in named))]
    sections = []
    for title, keys in groups:
        rows = []
        for key in keys:
            definition = SETTINGS[key]
            default = definition.default()
            rows.append({
                "key": key, "value": values.get(key, default), "default": default, "help": definition.help,
                "is_default": values.get(key, default) == default, "errors": errors.get(key, []),
                "on": as_bool(values.get(key, default)),
                "widget": "bool" if key in BOOLEAN_KEYS else "text" if key not in MULTILINE_KEYS else "textarea",
            })  # fmt: skip
        sections.append({"title": title, "rows": rows})
    return sections


def _page(
    request: HttpRequest, project: Project, *, values: Mapping[str, str] | None = None,
    setting_errors: Mapping[str, list[str]] | None = None, form_errors: Mapping[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    form_errors = form_errors or {}
    secrets = [
        {"id": s.pk, "name": s.name, "keys": sorted(str(k) for k in (s.data or {})),
         "errors": form_errors.get(f"secret-{s.pk}", [])}
        for s in ProjectSecret.objects.filter(project=project).order_by("name", "id")
    ]  # fmt: skip
    registries = list(RegistryCredential.objects.filter(project=project).order_by("registry", "id").defer("password"))
    members = list(ProjectMember.objects.filter(project=project).select_related("user").order_by("user__username"))
    for row in (*registries, *members):
        prefix = "registry" if isinstance(row, RegistryCredential) else "member"
        row.form_errors = form_errors.get(f"{prefix}-{row.pk}", [])
    context = {
        "project": project,
        "sections": _setting_sections(values or project_settings(project), setting_errors or {}),
        "setting_errors": bool(setting_errors),
        "mirror_variables": MIRROR_VARIABLES,
        "secrets": secrets,
        "registries": registries,
        "members": members,
        "roles": ProjectMember.Role.choices,
        "secret_new_errors": form_errors.get("secret-new", []),
        "registry_new_errors": form_errors.get("registry-new", []),
        "member_add_errors": form_errors.get("member-add", []),
    }
    return render(request, "web/settings_project.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@access_page
def settings_page(request: HttpRequest, project_id: str) -> HttpResponse:
    """GET shows every key with its value and default; POST applies the changed keys all or nothing
    (an emptied field goes back to the default)."""
    project, _ = project_for(request, project_id, Role.OWNER)
    if request.method == "GET":
        return _page(request, project)
    current = project_settings(project)
    posted = {key: request.POST.get(key, current[key]).replace("\r\n", "\n").strip() for key in SETTINGS}
    changes: dict[str, str | None] = {}
    for key, value in posted.items():
        same_switch = key in BOOLEAN_KEYS and value in ("on", "off") and as_bool(value) == as_bool(current[key])
        if value != current[key] and not same_switch:
            changes[key] = value if value else None
    shown = {key: value or SETTINGS[key].default() for key, value in posted.items()}
    patch = ProjectSettingsPatchSerializer(data=changes)
    errors: dict[str, list[str]] = {}
    if not patch.is_valid():
        # The API's checks (lengths, each value) first; then the registry's own, which also compares
        # each request with its limit, so one answer names every problem, pairs included.
        errors = {key: flatten(value) for key, value in patch.errors.items()}
        effective = {key: SETTINGS[key].default() if value is None else value for key, value in changes.items()}
        for key, problems in validate_settings(effective, current).items():
            known = errors.setdefault(key, [])
            known.extend(problem for problem in problems if problem not in known)
    else:
        try:
            services.set_project_settings(project, changes)
        except ValidationError as exc:
            errors = exc.message_dict
    if errors:
        return _page(request, project, values=shown, setting_errors=errors, status=400)
    changed = ", ".join(changes) if changes else "nothing changed"
    messages.success(request, f"Settings saved ({changed}).")
    return redirect(f"/projects/{project.pk}/settings/")


def parse_key_values(text: str) -> dict[str, str]:
    """``KEY=value`` lines (blank lines skipped; a value may contain ``=``); never echoes a value."""
    data: dict[str, str] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(f"line {number}: expected KEY=value")
        if key in data:
            raise ValidationError(f"line {number}: {key[:100]} is given twice")
        data[key] = value
    return data


def _refused(request: HttpRequest, project: Project, form: str, problems: list[str]) -> HttpResponse:
    return _page(request, project, form_errors={form: problems}, status=400)


def _object(model: type[Any], project: Project, raw: str) -> Any:
    """A row of this project by its posted id (another project's id is simply not found)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return model.objects.filter(project=project, pk=int(raw)).first()


@require_POST
@login_required
@access_page
def secrets_post(request: HttpRequest, project_id: str) -> HttpResponse:
    """``action``: create (name + lines), set (lines merged into the secret), remove-key, delete."""
    project, _ = project_for(request, project_id, Role.OWNER)
    action = request.POST.get("action", "")
    secret = None if action == "create" else _object(ProjectSecret, project, request.POST.get("secret", ""))
    form = "secret-new" if action == "create" else f"secret-{secret.pk if secret else 'x'}"
    if action != "create" and secret is None:
        return _refused(request, project, "secret-new", ["no such secret in this project"])
    try:
        if action == "delete":
            services.delete_secret(secret)
            messages.success(request, f"Secret {secret.name} deleted.")
        elif action == "remove-key":
            key = request.POST.get("key", "")
            services.update_secret(secret, data={key: None}, merge=True)
            messages.success(request, f"Key {key} removed from {secret.name}.")
        elif action in ("create", "set"):
            data = parse_key_values(request.POST.get("values", ""))
            body = {"name": request.POST.get("name", "").strip(), "data": data}
            if action == "create":
                serializer = ProjectSecretSerializer(data=body)
            else:
                serializer = ProjectSecretSerializer(secret, data={"data": data}, partial=True)
            if not serializer.is_valid():
                return _refused(request, project, form, flatten(serializer.errors))
            if action == "create":
                secret = services.create_secret(project, name=body["name"], data=serializer.validated_data["data"])
                messages.success(request, f"Secret {secret.name} added with {len(data)} key(s).")
            else:
                if not data:
                    return _refused(request, project, form, ["give at least one KEY=value line"])
                services.update_secret(secret, data=serializer.validated_data["data"], merge=True)
                messages.success(request, f"Secret {secret.name}: {len(data)} key(s) set.")
        else:
            return _refused(request, project, "secret-new", [f"unknown action {action[:50]!r}"])
    except ValidationError as exc:
        return _refused(
            request, project, form, flatten(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        )
    return redirect(f"/projects/{project.pk}/settings/#secrets")


@require_POST
@login_required
@access_page
def registries_post(request: HttpRequest, project_id: str) -> HttpResponse:
    """``action``: create (host, username, password), update (username; a password only if typed), delete."""
    project, _ = project_for(request, project_id, Role.OWNER)
    action = request.POST.get("action", "")
    credential = (
        None if action == "create" else _object(RegistryCredential, project, request.POST.get("registry_id", ""))
    )
    if action != "create" and credential is None:
        return _refused(request, project, "registry-new", ["no such registry credential in this project"])
    form = "registry-new" if credential is None else f"registry-{credential.pk}"
    try:
        if action == "delete":
            services.delete_registry_credential(credential)
            messages.success(request, f"Registry credential for {credential.registry} deleted.")
            return redirect(f"/projects/{project.pk}/settings/#registries")
        body = {key: request.POST.get(key, "").strip() for key in ("registry", "username")}
        if request.POST.get("password"):
            body["password"] = request.POST["password"]
        if credential is not None:
            body["registry"] = body["registry"] or credential.registry
        serializer = ProjectRegistrySerializer(credential, data=body, partial=credential is not None)
        if not serializer.is_valid():
            return _refused(request, project, form, flatten(serializer.errors))
        if credential is None:
            credential = services.create_registry_credential(project, **serializer.validated_data)
            messages.success(request, f"Registry credential for {credential.registry} added.")
        else:
            services.update_registry_credential(credential, **serializer.validated_data)
            messages.success(request, f"Registry credential for {credential.registry} updated.")
    except ValidationError as exc:
        return _refused(request, project, form, flatten(exc.message_dict))
    return redirect(f"/projects/{project.pk}/settings/#registries")


@require_POST
@login_required
@access_page
def members_post(request: HttpRequest, project_id: str) -> HttpResponse:
    """``action``: add (username, role), role (member, role), remove (member). The service refuses to
    leave a project without an owner; its message is shown."""
    project, _ = project_for(request, project_id, Role.OWNER)
    action = request.POST.get("action", "")
    member = None
    if action in ("role", "remove"):
        raw = request.POST.get("member", "")
        member = _object(ProjectMember, project, raw)
        if member is None:
            return _refused(request, project, "member-add", ["no such member in this project"])
    form = f"member-{member.pk}" if member else "member-add"
    try:
        if action == "add":
            serializer = ProjectMemberAddSerializer(
                data={"username": request.POST.get("username", "").strip(), "role": request.POST.get("role", "")}
            )
            if not serializer.is_valid():
                return _refused(request, project, form, flatten(serializer.errors))
            added = services.add_member(project, **serializer.validated_data)
            messages.success(request, f"{added.user.get_username()} added as {added.role}.")
        elif action == "role":
            serializer = ProjectMemberRoleSerializer(data={"role": request.POST.get("role", "")})
            if not serializer.is_valid():
                return _refused(request, project, form, flatten(serializer.errors))
            services.change_member_role(member, serializer.validated_data["role"])
            messages.success(request, f"{member.user.get_username()} is now {member.role}.")
        elif action == "remove":
            services.remove_member(member)
            messages.success(request, f"{member.user.get_username()} removed from the project.")
        else:
            return _refused(request, project, form, [f"unknown action {action[:50]!r}"])
    except ValidationError as exc:
        return _refused(request, project, form, [m for ms in exc.message_dict.values() for m in ms])
    except serializers.ValidationError as exc:
        return _refused(request, project, form, flatten(exc.detail))
    # Someone who just removed or demoted themselves can no longer manage the project.
    still = role_of(request.user, project.pk)
    if still is None:
        return redirect("/")
    if still < Role.OWNER:
        return redirect(f"/projects/{project.pk}/")
    return redirect(f"/projects/{project.pk}/settings/#members")
