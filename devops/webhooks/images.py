"""Image pushes from a registry (Harbor, Docker Hub, Alibaba Cloud ACR) become deliveries.

A registry cannot sign its webhooks the way a git provider does (Docker Hub and ACR have no secret
at all), so the project is found by an unguessable token in the URL: ``/hooks/images/<token>/``.
Only the token's sha256 is stored (``Project.image_hook_digest``); looking the project up by that
digest is an index lookup on a value an attacker cannot choose, so no timing comparison leaks it.

Each project's enabled ``ImageTrigger``s decide which pipelines a push starts: the trigger's
``image`` glob is matched against the repository with and without its registry host, the ``tag``
glob against the tag (both ``fnmatchcase``). Every matching pipeline gets one delivery whose id is
a digest of what was pushed, so a registry retrying the same notification builds once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from django.conf import settings
from django.db import transaction

from devops.models import DeliverySource, ImageTrigger, Project

from .deliveries import record_delivery

log = logging.getLogger(__name__)

# Docker's reference grammar, loosened where registries differ (ACR allows upper case in names).
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9]+(?:[._-]+[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:[._-]+[A-Za-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")
_EXPECTED = (
    "expected a registry push notification: Harbor (type PUSH_ARTIFACT with event_data.resources[] and"
    " event_data.repository.repo_full_name), Docker Hub (push_data.tag, repository.repo_name, callback_url)"
    " or Alibaba Cloud ACR (push_data.tag, repository.repo_full_name and repository.region)"
)


class BadPayload(Exception):
    """The body is not a push notification we understand; the message says what was expected."""


@dataclass(frozen=True)
class ImagePush:
    """One pushed tag, reduced to what matching and building need."""

    source: str
    repository: str  # namespace/name, without the registry host
    host: str  # the registry host ("" when the payload does not tell)
    tag: str
    digest: str = ""
    pushed_at: str = ""
    implicit_host: bool = False  # Docker Hub: pushed as namespace/name, docker.io implied

    @property
    def image(self) -> str:
        """The reference as it was pushed: what CICD_IMAGE holds."""
        name = f"{self.host}/{self.repository}" if self.host and not self.implicit_host else self.repository
        return f"{name}:{self.tag}"

    def names(self) -> list[str]:
        """The repository with and without its host: a trigger may name either."""
        return [self.repository, f"{self.host}/{self.repository}"] if self.host else [self.repository]

    @property
    def delivery_id(self) -> str:
        """Stable across a registry's retries of one push, different for the next push of the tag."""
        key = "\x00".join((self.source, self.repository, self.tag, self.digest or self.pushed_at))
        return hashlib.sha256(key.encode()).hexdigest()

    def matches(self, trigger: ImageTrigger) -> bool:
        tag_glob = trigger.tag or "*"
        return fnmatchcase(self.tag, tag_glob) and any(fnmatchcase(name, trigger.image) for name in self.names())


# --- tokens ---------------------------------------------------------------------------------------
def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rotate_image_hook_token(project: Project) -> str:
    """A new token for the project's image hook URL; the old URL stops working at once. The token is
    returned once and never stored (only its sha256), so it cannot leak from the database."""
    token = secrets.token_urlsafe(32)
    digest = token_digest(token)
    Project.objects.filter(pk=project.pk).update(image_hook_digest=digest)
    project.image_hook_digest = digest
    return token


def image_hook_url(token: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/hooks/images/{token}/"


# --- intake ---------------------------------------------------------------------------------------
def receive_image_push(token: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """Record one delivery per pipeline whose image trigger matches the push; the HTTP answer.

    202 with ``matched`` (deliveries recorded now), ``pipelines`` (their pipeline ids) and
    ``duplicates`` (matching pushes already recorded: a registry retry); 202 with a ``reason`` when
    nothing matched or the event is not a push; 400 malformed, 404 unknown token, 413 too large.
    ``headers`` (lower-cased keys) are not needed by any of the three registries' formats.
    """
    del headers  # none of the registries sends anything we verify or route on
    if len(body) > settings.WEBHOOK_MAX_BYTES:
        return 413, {"detail": f"payload of {len(body)} bytes exceeds {settings.WEBHOOK_MAX_BYTES} bytes"}
    project = _project_for(token)
    if project is None:
        return 404, {"detail": "unknown image hook token (it may have been rotated)"}
    try:
        source, pushes, ignored = parse_image_push(body)
    except BadPayload as exc:
        return 400, {"detail": str(exc)}
    base: dict[str, Any] = {"source": source, "images": [push.image for push in pushes]}
    if not pushes:
        return 202, {**base, "matched": 0, "pipelines": [], "duplicates": 0, "reason": ignored}
    return _record(project, pushes, base)


def _project_for(token: str) -> Project | None:
    if not token or len(token) > 200:
        return None
    return Project.objects.filter(image_hook_digest=token_digest(token)).only("id", "name").first()


def _record(project: Project, pushes: list[ImagePush], base: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    triggers = list(ImageTrigger.objects.filter(pipeline__project=project, enabled=True).order_by("pipeline_id", "id"))
    pipelines: list[int] = []
    duplicates = 0
    with transaction.atomic():
        for push in pushes:
            chosen: dict[int, ImageTrigger] = {}
            for trigger in triggers:  # one delivery per pipeline: its first matching trigger decides
                if trigger.pipeline_id not in chosen and push.matches(trigger):
                    chosen[trigger.pipeline_id] = trigger
            for pipeline_id, trigger in chosen.items():
                payload = {"kind": "image", "image": push.image, "branch": trigger.branch, "digest": push.digest}
                delivery = record_delivery(
                    pipeline_id, source=push.source, delivery_id=push.delivery_id, event="image", payload=payload
                )
                if delivery is None:
                    duplicates += 1
                else:
                    pipelines.append(pipeline_id)
    answer: dict[str, Any] = {**base, "matched": len(pipelines), "pipelines": pipelines, "duplicates": duplicates}
    if not pipelines and not duplicates:
        wanted = ", ".join(push.image for push in pushes)
        answer["reason"] = f"no enabled image trigger of project {project.name} matches {wanted}"
    log.info(
        "image push %s for project %s: %d deliveries, %d duplicates",
        base["images"], project.pk, len(pipelines), duplicates,
    )  # fmt: skip
    return 202, answer


# --- parsing --------------------------------------------------------------------------------------
def parse_image_push(body: bytes) -> tuple[str, list[ImagePush], str]:
    """(source, pushed tags, why there are none). Raises BadPayload naming what was expected."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"the body is not JSON ({exc.__class__.__name__}); {_EXPECTED}") from None
    except ValueError:  # a number of more than 4300 digits: Python refuses to convert it
        raise BadPayload(f"the body holds a number too long to read; {_EXPECTED}") from None
    if not isinstance(data, dict):
        raise BadPayload(f"the body is not a JSON object; {_EXPECTED}")
    if "event_data" in data and "type" in data:
        return _parse_harbor(data)
    push_data = data.get("push_data")
    repository = data.get("repository")
    if isinstance(push_data, dict) and isinstance(repository, dict):
        if "callback_url" in data or "repo_name" in repository:
            return DeliverySource.DOCKERHUB, [_parse_dockerhub(push_data, repository)], ""
        if "repo_full_name" in repository or "region" in repository:
            return DeliverySource.ACR, [_parse_acr(push_data, repository)], ""
    raise BadPayload(_EXPECTED)


def _parse_harbor(data: dict[str, Any]) -> tuple[str, list[ImagePush], str]:
    """Harbor's default format: one notification per push, ``resources`` one per pushed artifact."""
    kind = data.get("type")
    if kind != "PUSH_ARTIFACT":
        return DeliverySource.HARBOR, [], f"Harbor event {str(kind)[:40]!r} is not a push (PUSH_ARTIFACT)"
    event_data = data.get("event_data")
    if not isinstance(event_data, dict):
        raise BadPayload("Harbor PUSH_ARTIFACT without an event_data object")
    repository = _repository(_obj(event_data, "repository", "Harbor event_data"), "repo_full_name", "Harbor")
    resources = event_data.get("resources")
    if not isinstance(resources, list) or not resources:
        raise BadPayload("Harbor PUSH_ARTIFACT without event_data.resources[] (resource_url, tag, digest)")
    pushes: list[ImagePush] = []
    for resource in resources:
        if not isinstance(resource, dict):
            raise BadPayload("Harbor event_data.resources[] must hold objects (resource_url, tag, digest)")
        digest = _string(resource.get("digest"))
        tag = _string(resource.get("tag"))
        if not tag or tag == digest or tag.startswith("sha256:"):
            continue  # pushed by digest only: no tag for a trigger to match
        _check_tag(tag, "Harbor event_data.resources[].tag")
        url = _string(resource.get("resource_url"))
        at = url.find(f"/{repository}")
        host = url[:at] if at > 0 and _HOST_RE.match(url[:at]) else ""
        pushes.append(ImagePush(DeliverySource.HARBOR, repository, host, tag, digest, str(data.get("occur_at") or "")))
    reason = "" if pushes else "the Harbor push has no tagged artifact (pushed by digest only)"
    return DeliverySource.HARBOR, pushes, reason


def _parse_dockerhub(push_data: dict[str, Any], repository: dict[str, Any]) -> ImagePush:
    """Docker Hub sends no digest: ``pushed_at`` tells two pushes of one tag apart. Its
    ``callback_url`` is not called: it is an outbound URL taken from an unauthenticated body."""
    name = _repository(repository, "repo_name", "Docker Hub")
    tag = _check_tag(_string(push_data.get("tag")), "Docker Hub push_data.tag")
    pushed_at = _string(push_data.get("pushed_at"))
    # "library/x" is what Docker Hub calls an official image; pushers write it as "x" or "library/x".
    return ImagePush(DeliverySource.DOCKERHUB, name, "docker.io", tag, "", pushed_at, implicit_host=True)


def _parse_acr(push_data: dict[str, Any], repository: dict[str, Any]) -> ImagePush:
    """ACR (personal edition) names the region; the registry host is derived from it."""
    name = _repository(repository, "repo_full_name", "ACR")
    tag = _check_tag(_string(push_data.get("tag")), "ACR push_data.tag")
    region = _string(repository.get("region"))
    host = f"registry.{region}.aliyuncs.com" if re.fullmatch(r"[a-z0-9-]{1,40}", region) else ""
    return ImagePush(
        DeliverySource.ACR, name, host, tag, _string(push_data.get("digest")), _string(push_data.get("pushed_at"))
    )


def _obj(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise BadPayload(f"{where} has no {key} object")
    return value


def _repository(repository: dict[str, Any], key: str, who: str) -> str:
    name = _string(repository.get(key))
    if not name or len(name) > 255 or not _REPOSITORY_RE.match(name):
        raise BadPayload(f"{who} repository.{key} must be a repository name like namespace/name, got {name[:80]!r}")
    return name


def _check_tag(tag: str, where: str) -> str:
    if not _TAG_RE.match(tag):
        raise BadPayload(f"{where} must be an image tag (letters, digits, _ . -; at most 128), got {tag[:80]!r}")
    return tag


def _string(value: object) -> str:
    """Registries mix numbers and strings (Docker Hub's pushed_at is a number, ACR's a string)."""
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, str | int | float) else ""
