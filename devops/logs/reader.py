"""Read a step's log from a byte offset, whether the step is still running or finished."""

from __future__ import annotations

from dataclasses import dataclass

from .live import LiveLog
from .stores import LogStore

__all__ = ["LogChunk", "read_log"]


@dataclass(frozen=True)
class LogChunk:
    """One page of a log.

    ``next_offset`` is where the next read should start. ``complete`` is True only when the log is
    finished AND this page reaches its end, so a client simply polls until ``complete`` without
    having to also check for an empty page.
    """

    data: bytes
    next_offset: int
    complete: bool


def _from_store(store: LogStore, key: str, offset: int, limit: int | None) -> LogChunk | None:
    data = store.read(key, offset, limit)
    if data is None:
        return None
    at_end = limit is None or len(data) < limit
    if not at_end:  # a full page: finished only if nothing lies beyond it
        size = store.size(key)
        at_end = size is not None and offset + len(data) >= size
    return LogChunk(data, offset + len(data), at_end)


def read_log(
    key: str,
    offset: int = 0,
    limit: int | None = 1 << 20,
    *,
    live: LiveLog,
    store: LogStore,
) -> LogChunk:
    """Up to ``limit`` bytes of the log ``key`` from ``offset``.

    The final store wins when it has the key (the step has ended); otherwise the live buffer serves
    it (complete=False); a log that exists in neither yet reads as an empty, incomplete page. The
    live copy and the stored copy are byte-identical, so offsets carry over when a step finishes.
    The store is asked again if the live copy is gone, because the writer stores before it discards:
    a step finishing between our two looks must not read as empty.
    """
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    chunk = _from_store(store, key, offset, limit)
    if chunk is not None:
        return chunk
    data = live.read(key, offset, limit)
    if data is not None:
        return LogChunk(data, offset + len(data), False)
    chunk = _from_store(store, key, offset, limit)
    if chunk is not None:
        return chunk
    return LogChunk(b"", offset, False)
