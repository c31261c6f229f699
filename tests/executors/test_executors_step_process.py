"""The local executor's step process: what a stop means once the step has already ended.

When a sibling fails, the stage's supervisor stops every step it has not collected yet. A step that
exited 0 a moment earlier finished its work: it must be recorded as a success, not as stopped.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from devops.executors.local.process import StepProcess


class Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, chunk: bytes) -> None:
        self.data += chunk


def _run(argv: list[str], tmp_path: Path) -> tuple[StepProcess, threading.Event, Sink]:
    done, sink = threading.Event(), Sink()
    proc = StepProcess(argv, {"PATH": "/usr/bin:/bin"}, tmp_path, sink, done)
    proc.start()
    return proc, done, sink


def test_a_stop_after_the_step_exited_keeps_its_own_outcome(tmp_path):
    proc, done, sink = _run(["sh", "-c", "echo finished"], tmp_path)
    assert done.wait(10)
    proc.stop("stopped because step other failed")
    assert proc.stop_reason is None
    assert proc.exit_code == 0
    assert sink.data == b"finished\n"


def test_a_stop_while_the_step_runs_ends_it_with_the_first_reason(tmp_path):
    proc, done, _ = _run(["sh", "-c", "sleep 30"], tmp_path)
    time.sleep(0.1)
    proc.stop("stopped because step other failed")
    proc.stop("a later reason")
    assert done.wait(10)
    assert proc.stop_reason == "stopped because step other failed"
    assert proc.exit_code != 0
