"""Watching a project's quota from outside the engine, for the tests and benchmarks that burst it.

Two independent views, so a breach cannot hide in either: a sampler that counts the active executions
over and over while they run, and the overlap of the rows' own intervals afterwards.
"""

from __future__ import annotations

import threading
import time

from django.db import connection

from devops.models import PipelineExecution
from devops.states import ACTIVE_STATES


class Sampler(threading.Thread):
    """Counts the project's active (Waiting + Building) executions over and over, on its own connection."""

    def __init__(self, project_id: int):
        super().__init__(daemon=True)
        self.project_id, self.peak, self.samples = project_id, 0, 0
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                n = PipelineExecution.objects.filter(project_id=self.project_id, state__in=ACTIVE_STATES).count()
                self.peak, self.samples = max(self.peak, n), self.samples + 1
                time.sleep(0.005)
        finally:
            connection.close()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an end and a start at the same instant do not overlap)."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])  # ends sort first
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak
