"""Find a running Celery worker, or start one beside the CLI for the embedded default."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

from django.conf import settings

QUEUES = "engine,runner,hooks,maintenance"


def worker_is_running() -> bool:
    """Only a broker with broadcast (Redis) can answer a ping; the filesystem broker cannot."""
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        return False
    from config.celery import app

    try:
        return bool(app.control.ping(timeout=0.5))
    except Exception:  # noqa: BLE001 - an unreachable broker means no worker we can use
        return False


def worker_command(concurrency: int = 16) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-Q", QUEUES, "-P", "threads", "-c", str(concurrency),
        "--without-gossip", "--without-mingle", "-l", "warning",
        "-n", f"embedded-{os.getpid()}@%h",
    ]  # fmt: skip


def start_embedded_worker() -> subprocess.Popen[bytes]:
    """A real worker process, stopped when the CLI exits."""
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        os.makedirs(folder, exist_ok=True)
        os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS["processed_folder"], exist_ok=True)
    log_path = settings.VAR_DIR / "worker.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(worker_command(), start_new_session=True, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        # By now the execution is final, so nothing is lost by a quick (cold) shutdown.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGQUIT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    atexit.register(stop)
    return proc
