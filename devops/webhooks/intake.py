"""Where a provider's webhook request becomes a recorded delivery: size, pipeline, provider, signature,
event, trigger switches, de-duplication — in that order, each with its own answer.

Nothing here reads the repository: the intake must answer within the provider's timeout (GitHub
gives 10 s) under bursts. Building — the pipeline file at the commit, its ``branch`` filter, the
execution — happens in ``process`` on the hooks queue, and the delivery records the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

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


def receive(pipeline_id: int, headers: Mapping[str, str], body: bytes) -> Answer:
    """Verify, parse, filter and record one delivery; the answer is the HTTP response to give."""
    if len(body) > settings.WEBHOOK_MAX_BYTES:
        return Answer(413, {"detail": f"payload of {len(body)} bytes exceeds {settings.WEBHOOK_MAX_BYTES} bytes"})
    pipeline = (
        Pipeline.objects.filter(pk=pipeline_id)
        .only("id", "webhook_secret", "trigger_push", "trigger_tag", "trigger_pull_request")
        .first()
    )
    if pipeline is None:
        return Answer(404, {"detail": f"no pipeline {pipeline_id}"})
    lowered = {k.lower(): v for k, v in headers.items()}
    provider_cls = registry.detect(lowered)
    if provider_cls is None:
        return Answer(400, {"detail": f"unknown sender: expected one of the headers {_PROVIDER_HEADERS}"})
    provider = provider_cls()
    try:
        provider.verify(lowered, body, pipeline.webhook_secret)
        event = provider.parse(lowered, body)
    except WebhookRejected as exc:
        return Answer(exc.status, {"detail": exc.message, "provider": provider.name})
    return _accept(pipeline, provider.name, event)


def _accept(pipeline: Pipeline, source: str, event: HookEvent) -> Answer:
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
    with transaction.atomic():
        delivery = record_delivery(
            pipeline, source=source, delivery_id=event.delivery_id, event=event.kind, payload=event.to_dict()
        )
    if delivery is None:
        reason = f"delivery {event.delivery_id} was already received"
        return Answer(200, {**base, "status": "duplicate", "reason": reason})
    return Answer(202, {**base, "status": "queued", "delivery": delivery.pk})
