"""Where a provider's webhook request becomes a recorded delivery: size, pipeline, provider, signature,
event, trigger switches, de-duplication — in that order, each with its own answer.

Nothing here reads the repository: the intake must answer within the provider's timeout (GitHub
gives 10 s) under bursts. Building — the pipeline file at the commit, its ``branch`` filter, the
execution — happens in ``process`` on the hooks queue, and the delivery records the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from devops.models import Pipeline
from devops.scm import registry
from devops.scm.base import HookEvent, WebhookRejected

from .deliveries import record_delivery

_SWITCHES = {
    "push": ("trigger_push", "push events are turned off for this pipeline"),
    "tag": ("trigger_tag", "tag events are turned off for this pipeline"),
    "pull_request": ("trigger_pull_request", "pull request events are turned off for this pipeline"),
}
_PROVIDER_HEADERS = "X-GitHub-Event, X-Gitlab-Event, X-Event-Key (Bitbucket) or X-Gitea-Event"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]


@dataclass(frozen=True)
class HookTarget:
    """What the intake needs of a pipeline: its webhook secret and trigger switches."""

    pk: int
    webhook_secret: str
    trigger_push: bool
    trigger_tag: bool
    trigger_pull_request: bool
    loaded_at: float


# Per process: the query and the secret's decryption were a third of the intake's CPU under bursts
# (bench/webhooks.py). A changed switch applies within WEBHOOK_PIPELINE_CACHE_SECONDS; a changed
# secret at once, because a signature that fails against a cached secret is checked again after a
# fresh read.
_targets: dict[int, HookTarget] = {}


def _load_target(pipeline_id: int, *, fresh: bool = False) -> HookTarget | None:
    cached = _targets.get(pipeline_id)
    now = time.monotonic()
    if cached and not fresh and now - cached.loaded_at < settings.WEBHOOK_PIPELINE_CACHE_SECONDS:
        return cached
    row = (
        Pipeline.objects.filter(pk=pipeline_id)
        .values_list("webhook_secret", "trigger_push", "trigger_tag", "trigger_pull_request")
        .first()
    )
    if row is None:
        _targets.pop(pipeline_id, None)
        return None
    target = HookTarget(pipeline_id, *row, loaded_at=now)
    if len(_targets) > 10_000:
        _targets.clear()
    _targets[pipeline_id] = target
    return target


def receive(pipeline_id: int, headers: Mapping[str, str], body: bytes) -> Answer:
    """Verify, parse, filter and record one delivery; the answer is the HTTP response to give."""
    if len(body) > settings.WEBHOOK_MAX_BYTES:
        return Answer(413, {"detail": f"payload of {len(body)} bytes exceeds {settings.WEBHOOK_MAX_BYTES} bytes"})
    pipeline = _load_target(pipeline_id)
    if pipeline is None:
        return Answer(404, {"detail": f"no pipeline {pipeline_id}"})
    lowered = {k.lower(): v for k, v in headers.items()}
    provider_cls = registry.detect(lowered)
    if provider_cls is None:
        return Answer(400, {"detail": f"unknown sender: expected one of the headers {_PROVIDER_HEADERS}"})
    provider = provider_cls()
    try:
        try:
            provider.verify(lowered, body, pipeline.webhook_secret)
        except WebhookRejected:
            fresh = _load_target(pipeline_id, fresh=True)
            if fresh is None or fresh.webhook_secret == pipeline.webhook_secret:
                raise
            pipeline = fresh
            provider.verify(lowered, body, pipeline.webhook_secret)
        event = provider.parse(lowered, body)
    except WebhookRejected as exc:
        return Answer(exc.status, {"detail": exc.message, "provider": provider.name})
    return _accept(pipeline, provider.name, event)


def _accept(pipeline: HookTarget, source: str, event: HookEvent) -> Answer:
    base: dict[str, object] = {"provider": source, "event": event.kind}
    if event.kind == "ping":
        return Answer(200, {**base, "status": "pong"})
    if event.kind == "ignored":
        return Answer(202, {**base, "status": "ignored", "reason": event.reason})
    field, off_reason = _SWITCHES[event.kind]
    if not getattr(pipeline, field):
        return Answer(202, {**base, "status": "ignored", "reason": off_reason})
    if not event.delivery_id:
        return Answer(400, {**base, "detail": "the delivery has no delivery id header"})
    delivery = record_delivery(
        pipeline.pk, source=source, delivery_id=event.delivery_id, event=event.kind, payload=event.to_dict()
    )
    if delivery is None:
        reason = f"delivery {event.delivery_id} was already received"
        return Answer(200, {**base, "status": "duplicate", "reason": reason})
    return Answer(202, {**base, "status": "queued", "delivery": delivery.pk})
