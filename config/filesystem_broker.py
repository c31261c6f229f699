"""kombu's filesystem transport with atomic message files (the embedded default's broker).

Upstream ``_put`` creates the ``.msg`` file and then writes it, so a consumer listing the folder can
open it empty and die with a JSONDecodeError (celery/kombu#1551); under a burst of triggers the
embedded worker stopped and executions stayed queued. The exchange tables have the same flaw when two
processes (the CLI and its worker) declare the queues at once. Here every file is written under a
dot-name the consumer ignores and renamed into place, which is atomic within one directory, and the
table's read-modify-write is serialised by a lock file.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = Path(self.data_folder_out) / name
        try:
            _write_atomically(final, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {str(final)!r} to directory") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with open(self.control_folder / f".{table.name}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            queues = self.get_table(exchange)
            if entry not in queues:
                _write_atomically(table, str_to_bytes(dumps([entry, *queues])))


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make ``filesystem://`` URLs use this transport."""
    TRANSPORT_ALIASES["filesystem"] = "config.filesystem_broker:Transport"
