"""The live buffer: a step's (already masked) log while the step is still running.

Readers poll it by byte offset while the writer appends. When the step ends, ``spooled(key)`` hands
the complete log over as a local file, so the final store can stream it (``LogStore.put_file``)
without the whole log ever being in memory; then ``discard(key)`` drops the live copy.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from .keys import validate_key

__all__ = ["FilesystemLiveLog", "LiveLog", "RedisLiveLog"]


def _check_range(offset: int, limit: int | None) -> None:
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")


class LiveLog(ABC):
    """Append-only per-key byte buffers, readable by offset while being appended to."""

    @abstractmethod
    def append(self, key: str, data: bytes) -> None:
        """Append ``data`` (creating the key; ``b""`` just creates it)."""

    @abstractmethod
    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        """Up to ``limit`` bytes (all when None) from ``offset``; b"" past the end; None if no key."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Bytes appended so far, or None if there is no such key."""

    @abstractmethod
    def spooled(self, key: str) -> contextlib.AbstractContextManager[Path | None]:
        """A context manager yielding a local file holding the complete log (None if no key).

        The file is only valid inside the ``with`` block; it may be the live file itself, so it must
        not be modified. Used once, by the writer, after the last append.
        """

    @abstractmethod
    def discard(self, key: str) -> None:
        """Drop the live copy (no error if it does not exist)."""


class FilesystemLiveLog(LiveLog):
    """Live logs as files under ``root``, appended with O_APPEND; the embedded default.

    Handing over is free: the live file already is the complete log.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def append(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            f.write(data)

    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        _check_range(offset, limit)
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read() if limit is None else f.read(limit)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def size(self, key: str) -> int | None:
        try:
            path = self._path(key)
            return path.stat().st_size if path.is_file() else None
        except (FileNotFoundError, NotADirectoryError):
            return None

    @contextlib.contextmanager
    def spooled(self, key: str) -> Iterator[Path | None]:
        path = self._path(key)
        yield path if path.is_file() else None

    def discard(self, key: str) -> None:
        # Only the file: its directories are shared with the execution's other steps and the
        # pipeline's other executions, whose appends would race a tidy-up (FileNotFoundError).
        self._path(key).unlink(missing_ok=True)


class RedisLiveLog(LiveLog):
    """Live logs as Redis strings: APPEND to write, GETRANGE to read, STRLEN for the size.

    Every append refreshes a TTL, so logs of runners that died without finishing expire on their own.
    Redis caps a string at 512 MB; a step printing more than that fails its append (and the writer
    raises), which is intended: such a log belongs in the final store, not in Redis memory.
    Handing over streams the value out in ``spool_chunk`` ranges to a temporary file in ``spool_dir``.
    """

    def __init__(
        self,
        redis_url: str,
        ttl_seconds: int,
        *,
        key_prefix: str = "devops:livelog:",
        spool_dir: Path | None = None,
        spool_chunk: int = 1024 * 1024,
    ) -> None:
        import redis

        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.ttl_seconds = int(ttl_seconds)
        self.key_prefix = key_prefix
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self.spool_chunk = spool_chunk
        self._redis = redis.Redis.from_url(redis_url, decode_responses=False)

    def _rkey(self, key: str) -> str:
        return self.key_prefix + validate_key(key)

    def append(self, key: str, data: bytes) -> None:
        rkey = self._rkey(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.append(rkey, data)
        pipe.expire(rkey, self.ttl_seconds)
        pipe.execute()

    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        _check_range(offset, limit)
        rkey = self._rkey(key)
        if limit == 0:
            return b"" if self._redis.exists(rkey) else None
        end = -1 if limit is None else offset + limit - 1
        pipe = self._redis.pipeline(transaction=True)
        pipe.exists(rkey)
        pipe.getrange(rkey, offset, end)
        exists, data = pipe.execute()
        return bytes(data) if exists else None

    def size(self, key: str) -> int | None:
        rkey = self._rkey(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.exists(rkey)
        pipe.strlen(rkey)
        exists, length = pipe.execute()
        return int(length) if exists else None

    @contextlib.contextmanager
    def spooled(self, key: str) -> Iterator[Path | None]:
        rkey = self._rkey(key)
        if not self._redis.exists(rkey):
            yield None
            return
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="livelog-", suffix=".log", dir=self.spool_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                offset = 0
                while True:
                    chunk = self._redis.getrange(rkey, offset, offset + self.spool_chunk - 1)
                    f.write(chunk)
                    offset += len(chunk)
                    if len(chunk) < self.spool_chunk:
                        break
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def discard(self, key: str) -> None:
        self._redis.delete(self._rkey(key))
