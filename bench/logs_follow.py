"""Observers for ``bench/logs_volume.py``: an SSE follower of a step's log and a memory sampler."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from dataclasses import dataclass, field

from cache_util import process_tree, pss_bytes, rss_bytes


@dataclass
class Mark:
    phase: str
    seq: int
    written: float  # unix time the step wrote the line
    seen: float  # unix time the follower had read it

    @property
    def delay(self) -> float:
        return self.seen - self.written


@dataclass
class FollowResult:
    status: int = 0
    error: str = ""
    bytes: int = 0
    sha256: str = ""
    events: int = 0
    marks: list[Mark] = field(default_factory=list)
    end: dict[str, object] = field(default_factory=dict)
    connected_at: float = 0.0
    ended_at: float = 0.0
    cpu_seconds: float = 0.0  # the follower thread's own CPU (reading and parsing the stream)


class Follower(threading.Thread):
    """Follows ``GET <path>?follow=1`` as an event source would, on one connection.

    It rebuilds the log from the ``log`` events (each ``data:`` line is one line of the text, so joining
    them with ``\\n`` gives the text back exactly; the step writes ASCII), hashes it, and times every
    marker line: when a read from the socket completes an event holding a ``MARK`` line,
    ``seen - written`` is its delay. It parses whole events with a few C-level bytes operations, not line
    by line: on these 2 cores a Python loop over 1.3 million lines would slow the server it measures.
    """

    def __init__(self, port: int, path: str, token: str, timeout: float = 600):
        super().__init__(name="sse-follower", daemon=True)
        self.port, self.path, self.token, self.timeout = port, path, token, timeout
        self.result = FollowResult()
        self._hash = hashlib.sha256()
        self._carry = b""  # the log's last, still incomplete line

    def run(self) -> None:
        try:
            self._follow()
        except Exception as exc:  # noqa: BLE001 - reported in the figures, not raised in a thread
            self.result.error = f"{type(exc).__name__}: {exc}"
        self.result.sha256 = self._hash.hexdigest()
        self.result.ended_at = time.time()
        self.result.cpu_seconds = time.thread_time()

    def _follow(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Authorization": f"Token {self.token}", "Accept": "text/event-stream"}
        conn.request("GET", self.path, headers=headers)
        response = conn.getresponse()
        self.result.status = response.status
        self.result.connected_at = time.time()
        if response.status != 200:
            self.result.error = response.read()[:500].decode(errors="replace")
            return
        buf, scan = bytearray(), 0
        while True:
            chunk = response.read1(1 << 16)
            if not chunk:
                self.result.error = self.result.error or "stream closed before an end event"
                return
            now = time.time()
            buf += chunk
            while (end := buf.find(b"\n\n", max(scan - 1, 0))) >= 0:
                block = bytes(buf[:end])
                del buf[: end + 2]
                scan = 0
                if self._event(block, now):
                    conn.close()
                    return
            scan = len(buf)

    def _event(self, block: bytes, now: float) -> bool:
        """Handle one event (its lines, without the blank line ending it); True at the ``end`` event."""
        if block.startswith(b"event: log\n"):
            # The server writes ``event``, ``id``, then only ``data:`` lines: the text is everything
            # after the first ``data: ``, with each line's ``data: `` prefix taken off.
            first = block.find(b"\ndata: ")
            self._log_text(block[first + 7 :].replace(b"\ndata: ", b"\n"), now)
        elif block.startswith(b"event: end\n"):
            data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
            self.result.end = json.loads(b"\n".join(data))
            return True
        self.result.events += block.startswith(b"event: ")
        return False

    def _log_text(self, text: bytes, now: float) -> None:
        self._hash.update(text)
        self.result.bytes += len(text)
        text = self._carry + text
        cut = text.rfind(b"\n") + 1
        complete, self._carry = text[:cut], text[cut:]
        if b"MARK " not in complete:  # base64 filler has no space: only a marker line has one
            return
        for line in complete.split(b"\n"):
            if line.startswith(b"MARK "):
                _, phase, seq, written = line.split(b" ")
                self.result.marks.append(Mark(phase.decode(), int(seq), float(written), now))


class MemorySampler(threading.Thread):
    """Memory of a few processes and process trees every ``interval`` seconds, as (unix time, bytes):
    the RSS of a single process, the sum of the PSS over a tree (a child just forked shares its parent's
    pages; RSS would count them twice)."""

    def __init__(self, watch: dict[str, tuple[int, bool]], interval: float = 0.05):
        """``watch``: name -> (pid, whole tree?)."""
        super().__init__(name="rss-sampler", daemon=True)
        self.watch, self.interval = watch, interval
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in watch}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.time()
            for name, (pid, tree) in self.watch.items():
                size = sum(pss_bytes(p) for p in process_tree(pid)) if tree else rss_bytes(pid)
                self.samples[name].append((now, size))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def between(self, name: str, start: float, end: float) -> list[int]:
        return [rss for t, rss in self.samples[name] if start <= t <= end]
