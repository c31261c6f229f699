"""Writes on projects and pipelines that more than one edge (CLI, API, admin) needs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devops.models import (
    Pipeline,
    PipelineExecution,
    PipelineSetting,
    Project,
    ProjectMember,
    ProjectSecret,
    RegistryCredential,
)
from devops.project_settings import SETTINGS, validate_setting, validate_settings
from devops.scm.git import normalise_url
from devops.states import FINAL_STATES


def ensure_project(name: str) -> Project:
    project, _ = Project.objects.get_or_create(name=name, defaults={"display_name": name})
    return project


def ensure_pipeline(project: Project, name: str, repository_url: str, provider: str = "git") -> tuple[Pipeline, bool]:
    """Create the pipeline, or reuse the one with this name (its URL follows the latest call)."""
    url = normalise_url(repository_url)
    with transaction.atomic():
        pipeline, created = Pipeline.objects.get_or_create(
            project=project, name=name, defaults={"repository_url": url, "provider": provider}
        )
        if not created and pipeline.repository_url != url:
            pipeline.repository_url = url
            pipeline.save(update_fields=["repository_url"])
    return pipeline, created


def set_project_setting(project: Project, key: str, value: str) -> PipelineSetting:
    validate_setting(key, value)
    setting, _ = PipelineSetting.objects.update_or_create(project=project, key=key, defaults={"value": value})
    return setting


# --- projects, members, settings, secrets and registry credentials (API writes) ------------------------
# Rules that hold whatever edge calls them: unique names become a ValidationError on the field (also
# when a concurrent request wins the race: the unique constraint is the judge), a project keeps an owner,
# and settings are validated together so a request never ends above its limit.

LAST_OWNER = "a project needs at least one owner: make another member an owner first"


class Conflict(Exception):
    """The request is valid but the object's current state forbids it (answer 409)."""


def _unique_clash(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def create_project(*, owner: Any, name: str, display_name: str = "", namespaces: list[str] | None = None) -> Project:
    """A new project with ``owner`` as its first owner, so whoever creates a project can manage it."""
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, display_name=display_name, namespaces=namespaces or [])
            ProjectMember.objects.create(project=project, user=owner, role=ProjectMember.Role.OWNER)
    except IntegrityError as exc:
        raise _unique_clash("name", f"a project named {name!r} already exists") from exc
    return project


def update_project(project: Project, **fields: Any) -> Project:
    """Change ``display_name`` and/or ``namespaces`` (the name is fixed: it names the namespace and logs)."""
    allowed = {"display_name", "namespaces"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    for key, value in fields.items():
        setattr(project, key, value)
    if fields:
        project.save(update_fields=list(fields))
    return project


def delete_project(project: Project) -> None:
    """Delete the project and everything in it, unless executions are still queued or running: their
    runners and pods would keep writing into rows that are gone (abort them first)."""
    with transaction.atomic():
        # The admission lock: no execution of this project is admitted while we decide.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        active = PipelineExecution.objects.filter(project=project).exclude(state__in=FINAL_STATES).count()
        if active:
            raise Conflict(f"the project has {active} queued or running execution(s); abort them first")
        project.delete()


def _owner_rows(project: Project) -> list[ProjectMember]:
    """Lock the owners' rows: two owners demoting each other at once are serialised here, and the
    second one sees that only one owner is left."""
    return list(ProjectMember.objects.select_for_update().filter(project=project, role=ProjectMember.Role.OWNER))


def add_member(project: Project, *, user: Any, role: str) -> ProjectMember:
    try:
        with transaction.atomic():
            return ProjectMember.objects.create(project=project, user=user, role=role)
    except IntegrityError as exc:
        raise _unique_clash(
            "user", f"{user.get_username()} is already a member of this project; change their role instead"
        ) from exc


def change_member_role(member: ProjectMember, role: str) -> ProjectMember:
    with transaction.atomic():
        owners = _owner_rows(member.project)
        member.refresh_from_db(fields=["role"])
        if member.role == ProjectMember.Role.OWNER and role != ProjectMember.Role.OWNER and len(owners) <= 1:
            raise _unique_clash("role", LAST_OWNER)
        member.role = role
        member.save(update_fields=["role"])
    return member


def remove_member(member: ProjectMember) -> None:
    with transaction.atomic():
        owners = _owner_rows(member.project)
        member.refresh_from_db(fields=["role"])
        if member.role == ProjectMember.Role.OWNER and len(owners) <= 1:
            raise ValidationError({"user": [LAST_OWNER]})
        member.delete()


def set_project_settings(project: Project, changes: dict[str, str | None]) -> None:
    """Apply ``{key: value}`` all or nothing: every value is validated (request <= limit across each
    pair, against the stored values for the side not changed) before anything is written. ``None`` or
    the default value removes the row, so the project follows the default when it changes later."""
    from devops.selectors import project_settings

    defaults = {key: SETTINGS[key].default() for key in changes if key in SETTINGS}
    with transaction.atomic():
        # Serialise settings writes of a project, so two PATCHes cannot each pass the pair check alone.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        current = project_settings(project)
        effective = {key: defaults.get(key, "") if value is None else value for key, value in changes.items()}
        errors = validate_settings(effective, current)
        if errors:
            raise ValidationError(errors)
        for key, value in effective.items():
            if value == defaults[key]:
                PipelineSetting.objects.filter(project=project, key=key).delete()
            else:
                PipelineSetting.objects.update_or_create(project=project, key=key, defaults={"value": value})


def create_secret(project: Project, *, name: str, data: dict[str, str]) -> ProjectSecret:
    try:
        with transaction.atomic():
            return ProjectSecret.objects.create(project=project, name=name, data=data)
    except IntegrityError as exc:
        raise _unique_clash("name", f"a secret named {name!r} already exists in this project") from exc


def update_secret(
    secret: ProjectSecret, *, name: str | None = None, data: dict[str, str | None] | None = None, merge: bool = False
) -> ProjectSecret:
    """Rename and/or set values. ``merge`` keeps the keys not mentioned and removes those set to None
    (values are write-only, so a client cannot send back the ones it does not change)."""
    fields = []
    if name is not None and name != secret.name:
        secret.name = name
        fields.append("name")
    if data is not None:
        new = dict(secret.data or {}) if merge else {}
        for key, value in data.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        if not new:
            raise ValidationError({"data": ["a secret needs at least one key"]})
        secret.data = new
        fields.append("data")
    if fields:
        try:
            with transaction.atomic():
                secret.save(update_fields=fields)
        except IntegrityError as exc:
            raise _unique_clash("name", f"a secret named {name!r} already exists in this project") from exc
    return secret


def delete_secret(secret: ProjectSecret) -> None:
    secret.delete()


def create_registry_credential(project: Project, *, registry: str, username: str, password: str) -> RegistryCredential:
    try:
        with transaction.atomic():
            return RegistryCredential.objects.create(
                project=project, registry=registry, username=username, password=password
            )
    except IntegrityError as exc:
        raise _unique_clash("registry", f"this project already has a credential for {registry}") from exc


def update_registry_credential(credential: RegistryCredential, **fields: str) -> RegistryCredential:
    """Change ``registry``, ``username`` and/or ``password``; a password not sent is kept."""
    changed = [k for k, v in fields.items() if k in ("registry", "username", "password") and v is not None]
    for key in changed:
        setattr(credential, key, fields[key])
    if changed:
        try:
            with transaction.atomic():
                credential.save(update_fields=changed)
        except IntegrityError as exc:
            raise _unique_clash("registry", f"this project already has a credential for {credential.registry}") from exc
    return credential


def delete_registry_credential(credential: RegistryCredential) -> None:
    credential.delete()
