"""The SSE encoder of step logs (``devops.api.logs._event``) gives each line of the text its own
``data:`` line, so a client that joins them with ``\\n`` (as an EventSource does) gets the text back.

It was rewritten from per-line formatting to one ``replace`` for speed (bench/logs_volume.py: 8 -> 2 ms
per MiB); these tests hold it to the per-line definition and to the client's view."""

from __future__ import annotations

import random

from devops.api.logs import _event


def per_line(name: str, data: str, event_id: int | None = None) -> bytes:
    """The definition: CRs become line breaks, then one ``data:`` line per line."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def client_view(raw: bytes) -> tuple[str, str]:
    """(event name, data) as an EventSource reads one event: ``data:`` lines joined by ``\\n``."""
    name, data = "message", []
    assert raw.endswith(b"\n\n")
    for line in raw[:-2].decode().split("\n"):
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return name, "\n".join(data)


EDGES = ["", "a", "\n", "\n\n", "a\n", "\na", "a\r\nb", "a\rb", "\r", "\r\n", "\r\r\n\n", "x\n\r\ny\r",
         "héllo wörld ✓\n", "data: not a field\n", "id: 7\nevent: end\n", "line" * 1000]  # fmt: skip


def test_edge_cases_match_the_per_line_definition():
    for text in EDGES:
        for event_id in (None, 0, 12345):
            assert _event("log", text, event_id) == per_line("log", text, event_id), repr(text)


def test_random_texts_match_and_read_back():
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\n", "\r", "\r\n", "é", "✓", ":", "data: "]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        raw = _event("log", text, 3)
        assert raw == per_line("log", text, 3), repr(text)
        assert client_view(raw) == ("log", text.replace("\r\n", "\n").replace("\r", "\n"))


def test_a_large_page_reads_back_exactly():
    text = "".join(f"line {i} " + "x" * (i % 80) + "\n" for i in range(20_000))
    raw = _event("log", text, len(text))
    assert raw.startswith(f"event: log\nid: {len(text)}\ndata: line 0 \n".encode())
    assert client_view(raw) == ("log", text)
