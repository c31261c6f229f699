"""Celery beat liveness: the scheduler touches ``VAR_DIR/heartbeats/beat`` after every pass of its loop.

Beat's loop (``celery.beat.Service.start``) is ``tick(); sleep(interval <= max_interval)`` on one
thread, and ``tick`` is where everything that can hang happens: the database read of the schedule
(django-celery-beat) and the publishing of due tasks. Touching the file when a tick returns ties the
heartbeat to that loop, so a beat stuck in a tick, or stopped altogether, leaves the file to go stale
— which a process-is-alive check cannot see, and a side thread would hide. ``manage.py beatprobe``
reads its age (a Kubernetes exec probe). The file goes away when beat stops cleanly.

Selected by ``CELERY_BEAT_SCHEDULER`` (config/settings.py), so deployments must not pass another
``--scheduler``: the probe would then fail forever.
"""

from __future__ import annotations

import logging
from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler

from .heartbeat import BEAT_HEARTBEAT, heartbeat_path, touch

__all__ = ["HeartbeatScheduler"]

log = logging.getLogger(__name__)


class HeartbeatScheduler(DatabaseScheduler):
    """django-celery-beat's DatabaseScheduler that touches the beat heartbeat after each tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        try:
            touch(BEAT_HEARTBEAT)
        except OSError as exc:  # a full disk must not stop the schedule; the probe will notice
            log.warning("beat heartbeat not written: %s", exc)
        return interval

    def close(self) -> None:
        super().close()
        heartbeat_path(BEAT_HEARTBEAT).unlink(missing_ok=True)
