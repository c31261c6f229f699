"""One step as a process group: spawn, pump its output into the step log, stop it on demand."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Protocol

KILL_GRACE_SECONDS = 2.0


class LogSink(Protocol):
    def write(self, data: bytes) -> None: ...


class StepProcess:
    """A step's process group. Output goes to ``sink``; the shared ``done`` event is set (to wake the
    stage's supervisor) once it exited and its output is drained."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, sink: LogSink, done: threading.Event):
        self.argv, self.env, self.cwd, self.sink, self.done = argv, env, cwd, sink, done
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.stop_reason: str | None = None
        self._exited = threading.Event()
        self._drained = threading.Event()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> int:
        # A new session makes the step the leader of its own process group, so a stop reaches every
        # process it started (background jobs included), and nothing of it reaches the worker.
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
        threading.Thread(target=self._wait, name=f"step-wait-{self.proc.pid}", daemon=True).start()
        threading.Thread(target=self._pump, name=f"step-pump-{self.proc.pid}", daemon=True).start()
        return self.proc.pid

    def _wait(self) -> None:
        assert self.proc is not None
        exit_code = self.proc.wait()
        with self._lock:  # ordered against stop(): a stop either sees the exit or its reason counts
            self.exit_code = exit_code
            self._exited.set()
        # Leftover background processes would hold the pipe open forever: the step is over.
        self._signal(signal.SIGKILL)

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 65536):
                self.sink.write(chunk)
        finally:
            self.proc.stdout.close()
            self._exited.wait()
            self._drained.set()
            self.done.set()

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, reason: str) -> None:
        """SIGTERM the group, SIGKILL it after a short grace; the first reason given wins.

        A step that already exited keeps its own outcome: when a sibling fails, the supervisor stops
        every step it has not collected yet, and one that had just exited 0 must stay a success."""
        with self._lock:
            if self._exited.is_set():
                return
            if self.stop_reason is None:
                self.stop_reason = reason
        self._signal(signal.SIGTERM)
        timer = threading.Timer(KILL_GRACE_SECONDS, self._signal, args=(signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    @property
    def finished(self) -> bool:
        return self._drained.is_set()


def kill_group(pid: int) -> bool:
    """Kill a step's group by its recorded leader pid (used when the runner itself is gone)."""
    try:
        os.killpg(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False
