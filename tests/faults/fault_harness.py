"""The fault tests' own processes: workers and a beat that the test may kill, and the broker they share.

A fault test must never hurt the session's worker (other tests rely on it), so it detaches it from the
queues for its duration and runs its own ``celery worker`` and ``celery beat`` processes (those of
docs/operations.md) on the test database and this session's Redis key prefix. Everything started here
is stopped, and every message left in this session's queues is dropped, when the test ends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

QUEUES = ("engine", "runner", "hooks", "maintenance")
# The safety net every second instead of every 10 s: the faults are repaired within the test's budget.
MAINTENANCE_INTERVAL_SECONDS = 1


@dataclass
class Node:
    """One of the test's workers: its process (the leader of its own process group) and node name."""

    proc: subprocess.Popen
    name: str


def process_env(h: SimpleNamespace) -> dict[str, str]:
    """What the session's worker gets (``worker_env`` in tests/conftest.py), except that database
    connections are kept between tasks as in production (CONN_MAX_AGE 60 s, health checks), plus a
    short maintenance interval. The processes are stopped before the test's tables are flushed, so no
    idle connection holds it up."""
    from django.conf import settings

    env = {
        **h.worker_env(h.test_database_url()),
        "RUNNER_SILENCE_SECONDS": str(settings.RUNNER_SILENCE_SECONDS),
        "LAUNCH_RETRY_SECONDS": str(settings.LAUNCH_RETRY_SECONDS),
        "MAINTENANCE_INTERVAL_SECONDS": str(MAINTENANCE_INTERVAL_SECONDS),
    }
    env.pop("DB_CONN_MAX_AGE")
    return env


class Broker:
    """This session's part of the Redis broker: the keys under its ``global_keyprefix``, nothing else."""

    def __init__(self) -> None:
        import redis
        from django.conf import settings

        self.prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
        self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.redis.scan_iter(f"{self.prefix}*", count=1000))

    def flush(self) -> int:
        """What FLUSHDB does to this session (other sessions share the database): every key is gone —
        queued messages, messages delivered to a worker but not acknowledged, bindings."""
        keys = self.keys()
        if keys:
            self.redis.delete(*keys)
        return len(keys)

    def queued(self, queue: str) -> list[tuple[str, list]]:
        """(task name, args) of the messages waiting in ``queue``."""
        tasks = []
        for raw in self.redis.lrange(f"{self.prefix}{queue}", 0, -1):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            tasks.append((message["headers"]["task"], args))
        return tasks

    def drop_leftovers(self) -> None:
        """Messages of this test (in queues, or held unacknowledged by a killed worker) must not reach
        the next test's workers."""
        for queue in QUEUES:
            self.redis.delete(f"{self.prefix}{queue}")
        for key in ("unacked", "unacked_index", "unacked_mutex"):
            self.redis.delete(f"{self.prefix}{key}")


@dataclass
class Harness:
    """Start, kill and stop the test's own workers and beat."""

    h: SimpleNamespace
    tmp: Path
    env: dict[str, str] = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    beats: list[subprocess.Popen] = field(default_factory=list)
    broker: Broker = field(default_factory=Broker)

    def __post_init__(self) -> None:
        self.env = process_env(self.h)

    def worker(self, role: str, queues: str, concurrency: int) -> Node:
        """A ``celery worker`` of this test (own node name), answering pings when this returns."""
        name = f"fault-{role}-{os.getpid()}-{len(self.nodes)}@%h"
        proc = self.h.start_worker(self.env, name, queues, concurrency, self.tmp / f"{role}-{len(self.nodes)}.log")
        node = Node(proc, name.replace("%h", os.uname().nodename))
        self.nodes.append(node)
        return node

    def beat(self) -> subprocess.Popen:
        """``celery beat`` as production runs it (django-celery-beat's scheduler on the database)."""
        argv = [self.h.python, "-m", "celery", "-A", "config", "beat", "-l", "warning",
                "--pidfile", str(self.tmp / "beat.pid"), "-s", str(self.tmp / "beat-schedule")]  # fmt: skip
        log = open(self.tmp / "beat.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            argv, cwd=self.h.base_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.beats.append(proc)
        return proc

    def kill(self, node: Node) -> float:
        """SIGKILL the worker's whole process group (no shutdown code runs); returns the monotonic time."""
        os.killpg(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)
        return time.monotonic()

    def reserved(self, node: Node) -> list[tuple[str, list]]:
        """(task name, args) of the messages a live worker took from the broker but has not started."""
        from config.celery import app

        reply = app.control.inspect(destination=[node.name], timeout=2).reserved() or {}
        return [(t["name"], t["args"]) for t in reply.get(node.name, [])]

    def close(self) -> None:
        """SIGTERM every process group at once (warm shutdowns in parallel), SIGKILL after 10 s."""
        from devops.ops.heartbeat import BEAT_HEARTBEAT, heartbeat_path

        procs = self.beats + [node.proc for node in self.nodes]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            self.h.stop_worker(proc)  # waits; SIGKILLs the group of one still running after 10 s
        # A killed worker leaves its heartbeat file behind, and so does a beat that needed SIGKILL.
        names = [node.name for node in self.nodes]
        if any(proc.returncode != 0 for proc in self.beats):
            names.append(BEAT_HEARTBEAT)
        for name in names:
            with contextlib.suppress(OSError):
                heartbeat_path(name).unlink()


@contextlib.contextmanager
def session_worker_detached(name: str) -> Iterator[None]:
    """The session's worker (if it runs) stops consuming while the test's own workers run, so the
    test's messages reach the processes it kills; it gets its queues back afterwards."""
    from config.celery import app

    if not app.control.ping(destination=[name], timeout=1):
        yield
        return
    for queue in QUEUES:
        app.control.cancel_consumer(queue, destination=[name], reply=True, timeout=5)
    try:
        yield
    finally:
        for queue in QUEUES:
            app.control.add_consumer(queue, destination=[name], reply=True, timeout=5)


def pipeline_yaml(*scripts: str) -> str:
    """One stage per script, each with one step ``work<i>`` running it."""
    parts = ["stages:\n"]
    for i, script in enumerate(scripts):
        body = "".join(f"            {line}\n" for line in script.strip().splitlines())
        parts.append(
            f"  - name: Stage{i}\n    steps:\n      - name: work{i}\n        runScriptConfig:\n"
            f"          image: alpine\n          shellScript: |\n{body}"
        )
    return "".join(parts)


class ProjectLock:
    """Hold the project row lock that admission takes (a plain UPDATE), from a thread of its own, until
    released: every admission of that project blocks inside its worker meanwhile."""

    def __init__(self, project_id: int):
        self.project_id = project_id
        self._held, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        from django.db import connection, transaction
        from django.db.models import F

        from devops.models import Project

        try:
            with transaction.atomic():
                Project.objects.filter(pk=self.project_id).update(admission_seq=F("admission_seq") + 1)
                self._held.set()
                self._release.wait(60)
                transaction.set_rollback(True)
        finally:
            connection.close()

    def __enter__(self) -> ProjectLock:
        self._thread.start()
        assert self._held.wait(10), "could not take the project row lock"
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._thread.join(10)


def lock_waiters(database: str) -> list[str]:
    """Queries of other sessions on ``database`` that wait for a lock right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND pid <> pg_backend_pid()",
            [database],
        )
        return [row[0] for row in cursor.fetchall()]


def final_within(h: SimpleNamespace, ids: list[int], since: float, bound: float) -> tuple[list, float]:
    """Wait until every execution is final, at most ``bound`` seconds after ``since`` (a monotonic
    time: the fault); returns the rows in ``ids`` order and the seconds from ``since`` to the last."""
    rows = [h.wait_final(i, timeout=max(0.5, bound - (time.monotonic() - since))) for i in ids]
    return rows, time.monotonic() - since
