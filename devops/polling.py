"""Polling: new commits and tags of repositories that cannot send webhooks (plain git, or any
provider where a webhook is not wanted) become deliveries, like a webhook's would.

Beat runs ``poll_all`` every ``POLL_INTERVAL_SECONDS``. For each pipeline with ``poll`` on, one
``git ls-remote`` lists its branches and tags; what changed since the heads the last poll saved
(``Pipeline.polled_heads``) is recorded as ``poll`` deliveries (``devops.webhooks.process`` builds
them, with the pipeline file's ``branch`` filter). The first poll only records the heads, so turning
polling on does not build every branch. A delivery's id is ``<ref>:<sha>``: the same head seen twice
(two pollers, or a head moved back and forth) builds once.

The listing runs before the pipeline row is locked: holding the row lock across a network call
would hold up everything else that writes the pipeline (run numbers, last run state) for as long as
the remote takes. The compare-and-save then runs under ``select_for_update(skip_locked=True)`` and
is skipped if another poller saved heads after this one started listing, so two pollers never both
record the same change, and an older listing never overwrites a newer one.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from devops.models import DeliverySource, Pipeline
from devops.scm import access, git
from devops.webhooks.deliveries import record_delivery

log = logging.getLogger(__name__)

HEADS = "refs/heads/"
TAGS = "refs/tags/"


def poll_all() -> dict[str, int]:
    """Poll every pipeline with polling on; one failing repository does not stop the others."""
    counts = {"polled": 0, "deliveries": 0, "errors": 0}
    pipelines = Pipeline.objects.filter(poll=True).select_related("credential").order_by("polled_at", "id")
    for pipeline in pipelines:
        try:
            recorded = poll_pipeline(pipeline)
        except git.GitError as exc:  # the message is safe to log: git.py strips credentials
            log.warning("polling pipeline %s failed: %s", pipeline.pk, exc)
            counts["errors"] += 1
            continue
        except Exception:
            log.exception("polling pipeline %s failed", pipeline.pk)
            counts["errors"] += 1
            continue
        if recorded is not None:
            counts["polled"] += 1
            counts["deliveries"] += recorded
    return counts


def poll_pipeline(pipeline: Pipeline) -> int | None:
    """The number of deliveries recorded, or None when this poll was skipped (another poller holds
    or has just done it, or polling was turned off meanwhile). Raises GitError if listing fails."""
    started = timezone.now()
    auth = access.git_auth(pipeline)
    heads = git.ls_remote(pipeline.repository_url, auth.token or None, auth.username)
    with transaction.atomic():
        locked = (
            Pipeline.objects.select_for_update(skip_locked=True)
            .filter(pk=pipeline.pk, poll=True)
            .only("id", "poll", "polled_heads", "polled_at", "trigger_push", "trigger_tag")
            .first()
        )
        if locked is None or (locked.polled_at is not None and locked.polled_at >= started):
            return None
        recorded = 0 if locked.polled_at is None else _record_changes(locked, locked.polled_heads or {}, heads)
        locked.polled_heads = heads
        locked.polled_at = timezone.now()
        locked.save(update_fields=["polled_heads", "polled_at"])
    return recorded


def _record_changes(pipeline: Pipeline, previous: dict[str, str], heads: dict[str, str]) -> int:
    """Deliveries for new or moved branches (if push triggers are on) and new or moved tags (if tag
    triggers are on). Deleted refs are only dropped from the saved heads."""
    recorded = 0
    for ref, sha in sorted(heads.items()):
        if previous.get(ref) == sha:
            continue
        if ref.startswith(HEADS) and pipeline.trigger_push:
            event, payload = "push", {"kind": "poll", "branch": ref[len(HEADS) :], "commit": sha}
        elif ref.startswith(TAGS) and pipeline.trigger_tag:
            event, payload = "tag", {"kind": "poll", "tag": ref[len(TAGS) :], "commit": sha}
        else:
            continue
        delivery = record_delivery(
            pipeline, source=DeliverySource.POLL, delivery_id=f"{ref}:{sha}", event=event, payload=payload
        )
        recorded += delivery is not None
    return recorded


def reset_polling(pipeline: Pipeline) -> None:
    """Forget the saved heads: the next poll records without building (e.g. after the repository
    URL changed, so the old heads mean nothing)."""
    Pipeline.objects.filter(pk=pipeline.pk).update(polled_heads={}, polled_at=None)
    pipeline.polled_heads, pipeline.polled_at = {}, None
