"""Write one step's log: mask, append to the live buffer, and hand over to the store at the end."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from .keys import validate_key
from .live import LiveLog
from .masking import SecretMasker
from .stores import LogStore

__all__ = ["StepLogWriter"]

_LOST = b"[devops] the live log expired before the step finished; its output was lost\n"


class StepLogWriter:
    """The single writer of one step's log.

    Every byte goes through a ``SecretMasker`` before it is appended to the live buffer, so neither
    live readers nor the final store ever see a secret. Masked output is appended on every ``write``
    (split into ``chunk_bytes`` pieces): the runner already reads its pipes in chunks, and appending
    immediately means output is visible at once, always within ``flush_interval``, without a timer
    thread. The only bytes held back are the masker's (a possible secret prefix, at most
    ``len(longest secret) - 1`` bytes), released by the next write or by ``close``.

    ``close()`` flushes the masker, stores the complete log (streamed from the live buffer) and only
    then discards the live copy, so at every moment a reader finds the whole log in one of the two.
    Thread-safe: stdout and stderr pumps may share one writer.
    """

    def __init__(
        self,
        key: str,
        secrets: Iterable[str],
        live: LiveLog,
        store: LogStore,
        chunk_bytes: int = 64 * 1024,
        flush_interval: float = 0.2,
    ) -> None:
        if chunk_bytes <= 0:
            raise ValueError("chunk_bytes must be positive")
        self.key = validate_key(key)
        self.live = live
        self.store = store
        self.chunk_bytes = chunk_bytes
        self.flush_interval = flush_interval  # upper bound on visibility delay; met by appending at once
        self._masker = SecretMasker(secrets)
        self._lock = threading.Lock()
        self._written = 0  # masked bytes appended to the live buffer
        self._last_byte = b"\n"  # last input byte, so write_line can start on a fresh line
        self._tail_flushed = False
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def bytes_written(self) -> int:
        """Masked bytes appended so far (the live log's length)."""
        return self._written

    def write(self, data: bytes) -> None:
        """Mask ``data`` and append what can be emitted now to the live buffer."""
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        self._check_open()
        if data:
            self._last_byte = bytes(data[-1:])
            self._append(self._masker.feed(data))

    def write_line(self, text: str) -> None:
        """Write a system message as its own line, e.g. ``"[devops] cache restored"``.

        Starts a new line first if the step's output did not end with one, so the message is never
        glued to the end of a partial line. Masked like everything else.
        """
        with self._lock:
            prefix = "" if self._last_byte == b"\n" else "\n"
            self._write(f"{prefix}{text.rstrip(chr(10))}\n".encode("utf-8", errors="replace"))

    def close(self) -> int:
        """Finish the log: store it completely, discard the live copy; return its length in bytes.

        Idempotent: later calls return the same length. If storing fails the exception propagates, the
        live copy is kept, and ``close()`` may be called again to retry.
        """
        with self._lock:
            if self._closed:
                return self._written
            if not self._tail_flushed:
                self._append(self._masker.flush())
                if self._written == 0:
                    self.live.append(self.key, b"")  # an empty log is still a finished log
                self._tail_flushed = True
            with self.live.spooled(self.key) as path:
                if path is None:  # the live copy vanished (expired?): say so rather than store nothing
                    self._put_bytes(_LOST if self._written else b"")
                else:
                    self.store.put_file(self.key, path)
            self.live.discard(self.key)
            self._closed = True
            return self._written

    def _put_bytes(self, data: bytes) -> None:
        fd, name = tempfile.mkstemp(prefix="livelog-", suffix=".log")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            self.store.put_file(self.key, Path(name))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def _append(self, data: bytes) -> None:
        for start in range(0, len(data), self.chunk_bytes):
            piece = data[start : start + self.chunk_bytes]
            self.live.append(self.key, piece)
            self._written += len(piece)

    def _check_open(self) -> None:
        if self._closed or self._tail_flushed:
            raise ValueError(f"log {self.key!r} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
