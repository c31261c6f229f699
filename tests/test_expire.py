"""The periodic expiry removes old workspaces and logs, and keeps recent ones."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from devops.engine import TriggerInfo, create_execution
from devops.engine.maintenance import expire_old_data
from devops.logs import get_log_store, log_key
from devops.models import PipelineExecution, StepRun
from devops.pipeline_config import parse_pipeline
from devops.services import ensure_pipeline, ensure_project

pytestmark = pytest.mark.django_db

PIPELINE = "stages:\n  - name: Test\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"


def _execution_with_log(pipeline, ended_days_ago: float, tmp_path: Path) -> tuple[PipelineExecution, str]:
    execution = create_execution(pipeline, parse_pipeline(PIPELINE), TriggerInfo(branch="main"))
    key = log_key(pipeline.project.name, str(pipeline.pk), execution.run, 1, 0)
    source = tmp_path / f"log-{execution.run}"
    source.write_bytes(b"line\n")
    get_log_store().put_file(key, source)
    StepRun.objects.filter(execution=execution, stage_index=1).update(log_key=key)
    ended = timezone.now() - timedelta(days=ended_days_ago)
    PipelineExecution.objects.filter(pk=execution.pk).update(ended_at=ended)
    return execution, key


def test_old_logs_and_workspaces_go_recent_ones_stay(tmp_path: Path) -> None:
    project = ensure_project(f"expire-{os.getpid()}-{time.monotonic_ns()}")
    pipeline, _ = ensure_pipeline(project, "app", str(tmp_path))
    old, old_key = _execution_with_log(pipeline, settings.LOG_RETENTION_DAYS + 1, tmp_path)
    new, new_key = _execution_with_log(pipeline, 1, tmp_path)

    base = Path(settings.WORKSPACE_ROOT) / project.name / str(pipeline.pk)
    old_ws, new_ws = base / str(old.run), base / str(new.run)
    for ws in (old_ws, new_ws):
        (ws / "workspace").mkdir(parents=True)
    stale = time.time() - (settings.WORKSPACE_RETENTION_HOURS + 1) * 3600
    os.utime(old_ws, (stale, stale))

    result = expire_old_data()

    store = get_log_store()
    assert store.size(old_key) is None
    assert store.read(new_key) == b"line\n"
    assert not old_ws.exists() and new_ws.exists()
    assert result["logs"] >= 1 and result["workspaces"] >= 1
    assert StepRun.objects.get(execution=old, stage_index=1).log_key == ""
