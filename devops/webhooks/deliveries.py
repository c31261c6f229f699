"""Record an outside event once, and enqueue the work it asks for when the record commits."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

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
        pipeline_id=pipeline_id, source=source, delivery_id=delivery_id[:200], event=event[:40], payload=payload
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
