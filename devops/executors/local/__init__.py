"""The embedded default executor: processes on the worker host, run by a Celery task on ``runner``."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from devops.executors.base import Executor
from devops.models import PipelineExecution, StepRun
from devops.states import State

from .process import kill_group


def _belongs_to(pid: int, execution_id: str) -> bool:
    """A recorded pid may have been reused; only kill a group whose leader is still our step."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"CICD_EXECUTION_ID={execution_id}".encode() in environ.split(b"\0")


class LocalExecutor(Executor):
    name = "local"

    def launch(self, execution: PipelineExecution) -> None:
        from devops import tasks

        tasks.run_local_execution.delay(execution.pk)

    def abort(self, execution: PipelineExecution) -> None:
        """Kill the step groups directly when they run here; the runner's heartbeat covers the rest."""
        host = socket.gethostname()
        rows = StepRun.objects.filter(execution_id=execution.pk, host=host, pid__isnull=False)
        for pid in rows.exclude(state=State.SUCCESS).values_list("pid", flat=True):
            if _belongs_to(pid, execution.execution_id):
                kill_group(pid)

    def cleanup(self, execution: PipelineExecution) -> None:
        from .runner import execution_dir

        shutil.rmtree(execution_dir(execution), ignore_errors=True)
