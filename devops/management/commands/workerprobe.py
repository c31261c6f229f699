"""``manage.py workerprobe [--max-age 60] [--hostname NODE]``: exit 0 if a Celery worker's heartbeat
is fresh, 1 otherwise — the worker container's liveness probe (a Kubernetes exec probe)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from devops.ops.heartbeat import heartbeat_dir, latest_heartbeats


class Command(BaseCommand):
    help = (
        "Exit 0 when the newest heartbeat of this host's Celery workers (or of --hostname) is younger "
        "than --max-age seconds, 1 otherwise. The worker writes it under VAR_DIR/heartbeats/ every "
        "WORKER_HEARTBEAT_SECONDS. Touches neither the database nor the broker."
    )
    requires_system_checks: list[str] = []  # a probe runs every few seconds: start fast

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
        parser.add_argument(
            "--hostname", default=None, help="a worker's node name (e.g. celery@host); default: any on this host"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        max_age, hostname = opts["max_age"], opts["hostname"]
        beats = latest_heartbeats(hostname)
        if not beats:
            who = hostname or "any worker of this host"
            self.stderr.write(f"no heartbeat of {who} in {heartbeat_dir()}")
            sys.exit(1)
        newest = beats[0]
        if newest.age > max_age:
            self.stderr.write(f"{newest.hostname}: last heartbeat {newest.age:.0f}s ago (more than {max_age:g}s)")
            sys.exit(1)
        self.stdout.write(f"{newest.hostname}: heartbeat {newest.age:.1f}s ago")
