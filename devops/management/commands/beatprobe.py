"""``manage.py beatprobe [--max-age SECONDS]``: exit 0 if Celery beat's heartbeat is fresh, 1 otherwise —
the beat container's liveness probe (a Kubernetes exec probe). See devops/ops/beat.py."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from devops.ops.heartbeat import BEAT_HEARTBEAT, heartbeat_path, latest_heartbeats


class Command(BaseCommand):
    help = (
        "Exit 0 when Celery beat's heartbeat (VAR_DIR/heartbeats/beat, touched after every pass of its "
        "scheduler loop) is younger than --max-age seconds (default BEAT_PROBE_MAX_AGE), 1 otherwise. "
        "Touches neither the database nor the broker."
    )
    requires_system_checks: list[str] = []  # a probe runs every few seconds: start fast

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-age", type=float, default=None, help="seconds (default: the BEAT_PROBE_MAX_AGE setting)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        max_age = opts["max_age"] if opts["max_age"] is not None else float(settings.BEAT_PROBE_MAX_AGE)
        beats = latest_heartbeats(BEAT_HEARTBEAT)
        if not beats:
            self.stderr.write(f"no beat heartbeat at {heartbeat_path(BEAT_HEARTBEAT)}")
            sys.exit(1)
        age = beats[0].age
        if age > max_age:
            self.stderr.write(f"beat: last heartbeat {age:.0f}s ago (more than {max_age:g}s)")
            sys.exit(1)
        self.stdout.write(f"beat: heartbeat {age:.1f}s ago")
