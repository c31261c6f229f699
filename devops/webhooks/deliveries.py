"""Record an outside event once, and enqueue the work it asks for when the record commits."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from devops.models import Pipeline, WebhookDelivery


def record_delivery(
    pipeline: Pipeline | int, *, source: str, delivery_id: str, event: str, payload: dict[str, object]
) -> WebhookDelivery | None:
    """The new delivery, or None when (pipeline, source, delivery_id) was already recorded (a replay).

    ``payload`` must hold ``kind`` (push, tag, pull_request, image, cron, poll) and what that kind
    builds (``devops.webhooks.process`` reads it). Processing is enqueued on the ``hooks`` queue after
    commit, so a rolled-back caller leaves neither a row nor a task.
    """
    pipeline_id = pipeline if isinstance(pipeline, int) else pipeline.pk
    row = WebhookDelivery(
        pipeline_id=pipeline_id,
        source=source,
        delivery_id=storable(delivery_id[:200]),
        event=event[:40],
        payload=storable(payload),
    )
    # Outside a transaction the INSERT is one autocommitted statement (the webhook intake's hot path:
    # BEGIN/COMMIT around it cost two more round trips); inside one, a savepoint keeps the caller's
    # transaction usable after a duplicate.
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
    try:
        with guard:
            row.save(force_insert=True)
    except IntegrityError:
        return None
    delivery = row
    from devops import tasks

    transaction.on_commit(lambda: tasks.process_delivery.delay(delivery.pk))
    return delivery


def storable(value: Any) -> Any:
    """``value`` with every string PostgreSQL can store: a NUL (``\\u0000``) or an unpaired surrogate,
    which any JSON body may carry in a commit message or a digest, becomes U+FFFD instead of making
    the INSERT fail (and the intake answer 500)."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return value.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def requeue_stale(limit: int = 500) -> int:
    """Enqueue again the deliveries still ``queued`` after DELIVERY_RETRY_SECONDS: their task was lost
    (a flushed broker, a worker killed mid-task). Processing is idempotent, so a slow one that is
    merely still running is not built twice."""
    from devops import tasks
    from devops.models import DeliveryOutcome

    cutoff = timezone.now() - timedelta(seconds=settings.DELIVERY_RETRY_SECONDS)
    stale = WebhookDelivery.objects.filter(outcome=DeliveryOutcome.QUEUED, received_at__lt=cutoff)
    ids = list(stale.order_by("received_at").values_list("id", flat=True)[:limit])
    for delivery_id in ids:
        tasks.process_delivery.delay(delivery_id)
    return len(ids)
