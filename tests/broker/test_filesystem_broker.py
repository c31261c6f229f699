"""The embedded default's broker: no message is ever seen half-written, however busy the producer."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from kombu import Connection, Exchange

from config.filesystem_broker import Transport


def _connection(folder: Path) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.001,
    }
    folder.mkdir(parents=True, exist_ok=True)
    return Connection(transport=Transport, transport_options=options)


def test_messages_appear_whole_and_all_arrive(tmp_path: Path) -> None:
    """The consumer takes any ``*.msg`` it lists; one listed while still being written is read short
    (upstream kombu's JSONDecodeError, which stopped the embedded worker under a burst of triggers).
    An observer reading every listed file at full speed must never find a partial one."""
    payload = "x" * 500_000
    count = 150
    stop = threading.Event()
    partial: list[str] = []

    def observe() -> None:
        while not stop.is_set():
            for path in tmp_path.glob("*.msg"):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # consumed meanwhile
                try:
                    json.loads(data)
                except ValueError:
                    partial.append(f"{path.name}: {len(data)} bytes")

    def produce() -> None:
        # Like a web process or the CLI: it only publishes.
        with _connection(tmp_path) as conn:
            producer = conn.Producer(exchange=Exchange("engine", "direct"), routing_key="engine")
            for i in range(count):
                producer.publish({"n": i, "payload": payload}, serializer="json")

    threads = [threading.Thread(target=observe), threading.Thread(target=produce)]
    received: list[int] = []
    try:
        with _connection(tmp_path) as conn:
            queue = conn.SimpleQueue("engine")  # the worker's side: declares, then consumes
            for thread in threads:
                thread.start()
            while len(received) < count:
                message = queue.get(timeout=10)
                assert message.payload["payload"] == payload
                received.append(message.payload["n"])
                message.ack()
            queue.close()
    except Exception as exc:
        raise AssertionError(f"after {len(received)} of {count} messages: {exc!r}") from exc
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert partial == []
    assert sorted(received) == list(range(count))
