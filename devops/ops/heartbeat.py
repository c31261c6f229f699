"""Celery worker liveness: the worker touches ``VAR_DIR/heartbeats/<hostname>``, a probe reads its age.

A consumer bootstep (``WorkerHeartbeat``, added to the app in config/celery.py) writes the file when the
consumer starts and then every WORKER_HEARTBEAT_SECONDS from the consumer's own timer. With the Redis
transport that timer runs inside the consumer's event loop, so a consumer stuck in a blocking call
stops the heartbeat — exactly what a liveness probe must notice; a side thread would keep ticking. The
file goes away on a clean shutdown. ``manage.py workerprobe --max-age 60`` exits 0 while the newest
heartbeat of this host is fresh, 1 otherwise: a Kubernetes exec probe.

The same bootstep starts the worker's metrics endpoint when WORKER_METRICS_PORT is set (see
devops/ops/metrics.py): both are "things a worker does for its operators", started at the same moment.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import bootsteps

__all__ = [
    "BEAT_HEARTBEAT",
    "Heartbeat",
    "WorkerHeartbeat",
    "heartbeat_dir",
    "heartbeat_path",
    "latest_heartbeats",
    "prune_stale",
    "touch",
]

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")
# Celery beat's file (devops/ops/beat.py): one beat per VAR_DIR, and no "@host" suffix, so the
# workers' probe never takes it for a worker.
BEAT_HEARTBEAT = "beat"


def heartbeat_dir() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "heartbeats"


def heartbeat_path(hostname: str) -> Path:
    """The file of one worker (its Celery node name, e.g. ``celery@web-1``)."""
    return heartbeat_dir() / (_UNSAFE.sub("_", hostname)[:200] or "worker")


def touch(hostname: str) -> Path:
    """Write the heartbeat atomically (a reader never sees a half-written file)."""
    path = heartbeat_path(hostname)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps({"hostname": hostname, "pid": os.getpid(), "time": time.time()}))
    os.replace(temp, path)
    return path


@dataclass(frozen=True)
class Heartbeat:
    hostname: str
    path: Path
    age: float


def latest_heartbeats(hostname: str | None = None, now: float | None = None) -> list[Heartbeat]:
    """Heartbeats of ``hostname`` (a node name), or of every worker on this host when None
    (node names end with ``@<host>``), newest first."""
    now = time.time() if now is None else now
    directory = heartbeat_dir()
    if hostname is not None:
        paths = [heartbeat_path(hostname)]
    else:
        suffix = "@" + _UNSAFE.sub("_", socket.gethostname())
        paths = [p for p in directory.glob("*") if not p.name.startswith(".") and p.name.endswith(suffix)]
    beats = []
    for path in paths:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        beats.append(Heartbeat(path.name, path, max(0.0, now - mtime)))
    return sorted(beats, key=lambda b: b.age)


def prune_stale(older_than: float) -> int:
    """Remove heartbeats of workers gone for ``older_than`` seconds (killed ones never remove their
    own, e.g. the embedded worker each ``runpipeline`` starts); best effort."""
    removed, cutoff = 0, time.time() - older_than
    try:
        for path in heartbeat_dir().iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    except OSError:
        pass
    return removed


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: touch the heartbeat now and every WORKER_HEARTBEAT_SECONDS."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        self.tref: Any = None
        self.hostname: str = ""
        super().__init__(c, **kwargs)

    def start(self, c: Any) -> None:
        from django.conf import settings

        self.hostname = c.hostname
        interval = float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 10))
        prune_stale(max(86400.0, 100 * interval))
        self._beat()
        self.tref = c.timer.call_repeatedly(interval, self._beat)
        port = int(getattr(settings, "WORKER_METRICS_PORT", 0) or 0)
        if port:
            from .metrics import serve_worker_metrics

            try:
                serve_worker_metrics(port)
            except OSError as exc:
                log.warning("worker metrics endpoint on port %s not started: %s", port, exc)

    def _beat(self) -> None:
        try:
            touch(self.hostname)
        except OSError as exc:  # a full disk must not kill the consumer; the probe will notice
            log.warning("worker heartbeat not written: %s", exc)

    def stop(self, c: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def shutdown(self, c: Any) -> None:
        self.stop(c)
        if self.hostname:
            heartbeat_path(self.hostname).unlink(missing_ok=True)
