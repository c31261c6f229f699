"""Fixtures of the fault tests: a harness of the test's own workers and beat (see fault_harness.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fault_harness import Harness, session_worker_detached


@pytest.fixture
def faults(transactional_db, h: SimpleNamespace, tmp_path: Path) -> Iterator[Harness]:
    """The test's own processes; afterwards nothing the test started runs or waits in a queue."""
    from django.db import connections

    from devops import engine
    from devops.executors.local import LocalExecutor
    from devops.models import PipelineExecution
    from devops.states import FINAL_STATES

    harness = Harness(h, tmp_path)
    with session_worker_detached(f"session-{os.getpid()}@{os.uname().nodename}"):
        try:
            yield harness
        finally:
            for execution_id in PipelineExecution.objects.exclude(state__in=FINAL_STATES).values_list("id", flat=True):
                engine.abort(execution_id, "test ended")
            harness.close()
            for execution in PipelineExecution.objects.select_related("project"):
                LocalExecutor().abort(execution)  # step groups orphaned by a killed runner
            harness.broker.drop_leftovers()
            connections.close_all()
