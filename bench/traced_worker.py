"""A real Celery worker with task timestamps: ``python bench/traced_worker.py TRACE_FILE <worker args>``.

Used by ``bench/engine.py --trace``: the same ``config`` app and command line as ``celery -A config worker``,
plus Celery signal handlers that append ``event task_name task_id epoch`` lines to TRACE_FILE, so the
benchmark can split each task hop into broker (published -> received), pool (received -> prerun) and body
(prerun -> postrun).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_lock = threading.Lock()
_out = None


def record(event: str, name: str, task_id: str) -> None:
    line = f"{event} {name} {task_id} {time.time():.6f}\n"
    with _lock:
        _out.write(line)  # type: ignore[union-attr]
        _out.flush()  # type: ignore[union-attr]


def install(path: str) -> None:
    from celery import signals

    global _out
    _out = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    @signals.before_task_publish.connect(weak=False)
    def _published(sender: str | None = None, headers: dict | None = None, **kw: object) -> None:
        record("published", str(sender), (headers or {}).get("id", "?"))

    @signals.task_received.connect(weak=False)
    def _received(request: object = None, **kw: object) -> None:
        record("received", request.name, request.id)  # type: ignore[attr-defined]

    @signals.task_prerun.connect(weak=False)
    def _prerun(task_id: str = "", task: object = None, **kw: object) -> None:
        record("prerun", task.name, task_id)  # type: ignore[attr-defined]

    @signals.task_postrun.connect(weak=False)
    def _postrun(task_id: str = "", task: object = None, **kw: object) -> None:
        record("postrun", task.name, task_id)  # type: ignore[attr-defined]


def main() -> None:
    trace, argv = sys.argv[1], sys.argv[2:]
    install(trace)
    from config.celery import app

    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main()
