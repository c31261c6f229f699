"""A step's log over HTTP: one page as ``text/plain``, or a live follow as server-sent events.

Both read by byte offset (``devops.execution_selectors.step_log_page``), so a page, a follow and a
resumed follow (``Last-Event-ID``) all agree on positions. The follow polls the log and the step row
every ``LOG_FOLLOW_INTERVAL_SECONDS`` (0.2 s), sends a keep-alive comment when idle so a client that
went away is noticed at the next write, and ends after ``LOG_FOLLOW_MAX_SECONDS`` (one hour) at most.
It holds a worker thread for its whole life: serve the API with a threaded server (e.g. gunicorn
``--worker-class gthread``), whose request timeout does not cut long responses.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers
from rest_framework.request import Request

from devops.execution_selectors import refreshed_step, step_log_page
from devops.models import StepRun
from devops.states import FINAL_STATES

MAX_OFFSET = 2**53 - 1  # what a JavaScript client can hold exactly; far beyond any log
PAGE_BYTES = 1 << 20
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
# A final step whose log never reached the store (its runner was killed) must not be followed forever.
FINAL_GRACE_SECONDS = 10.0
KEEPALIVE_SECONDS = 15.0


class PlainTextRenderer(renderers.BaseRenderer):
    """Lets DRF's content negotiation accept ``Accept: text/plain``; the view returns raw bytes."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data if isinstance(data, bytes) else json.dumps(data).encode()


class EventStreamRenderer(PlainTextRenderer):
    """Lets ``EventSource`` (``Accept: text/event-stream``) through content negotiation."""

    media_type = "text/event-stream"
    format = "sse"


LOG_RENDERERS = [PlainTextRenderer, EventStreamRenderer, renderers.JSONRenderer]


def _offset(value: str, where: str) -> int:
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise exceptions.ValidationError({where: [f"must be a non-negative integer, got {value[:40]!r}"]})
    if len(text) > 16 or int(text) > MAX_OFFSET:
        raise exceptions.ValidationError({where: [f"must be at most {MAX_OFFSET}"]})
    return int(text)


def parse_log_query(request: Request) -> tuple[int, bool]:
    """(offset, follow) from ``?offset=`` / ``?follow=`` and, for a reconnecting event source, the
    ``Last-Event-ID`` header, which wins: the browser resends the original URL with it."""
    follow_raw = request.query_params.get("follow", "").strip().lower()
    if follow_raw not in _TRUE | _FALSE:
        raise exceptions.ValidationError({"follow": [f"must be a boolean (1/0, true/false), got {follow_raw[:40]!r}"]})
    follow = follow_raw in _TRUE
    last_event_id = request.headers.get("Last-Event-ID")
    if follow and last_event_id is not None and last_event_id.strip():
        return _offset(last_event_id, "Last-Event-ID"), follow
    return _offset(request.query_params.get("offset", "0") or "0", "offset"), follow


def plain_log_response(step: StepRun, offset: int) -> HttpResponse:
    """Up to one page (1 MiB) from ``offset``; the headers say where the next page starts and
    whether this page reaches the end of a finished log."""
    chunk = step_log_page(step, offset, PAGE_BYTES)
    response = HttpResponse(chunk.data, content_type="text/plain; charset=utf-8")
    response["X-Log-Next-Offset"] = str(chunk.next_offset)
    response["X-Log-Complete"] = "true" if chunk.complete else "false"
    response["X-Step-State"] = step.state
    response["Cache-Control"] = "no-store"
    return response


def _event(name: str, data: str, event_id: int | None = None) -> bytes:
    """One SSE event. Each line of ``data`` becomes its own ``data:`` line, so the client's
    ``event.data`` (lines joined by ``\\n``) is exactly ``data``; a CR would end an SSE line, so CRs
    become line breaks. One ``replace`` instead of splitting into lines: a follower of a step that
    prints fast gets 1 MiB events, and per-line formatting cost 8 ms per MiB (bench/logs_volume.py)."""
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "data: " + data.replace("\n", "\ndata: ") + "\n\n").encode()


def _state(step: StepRun) -> str:
    return json.dumps({"state": step.state, "exit_code": step.exit_code, "reason": step.reason})


def follow_events(
    step: StepRun,
    offset: int,
    *,
    interval: float,
    max_seconds: float,
    final_grace: float = FINAL_GRACE_SECONDS,
    keepalive: float = KEEPALIVE_SECONDS,
) -> Iterator[bytes]:
    """The event stream: ``log`` events (``id`` = the byte offset after them), a ``state`` event on
    each change of the step's state, and one ``end`` event when the step is final and its log
    complete (or the follow gave up: ``reason`` says why)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    started = last_write = time.monotonic()
    last_state: str | None = None
    final_since: float | None = None
    # The request's DB connection serves every poll; Django gives it back (request_finished) when the
    # server closes the response: at the end, or when the client went away (noticed at a write).
    yield b"retry: 2000\n\n"
    while True:
        try:
            current = refreshed_step(step)
            chunk = step_log_page(current or step, offset, PAGE_BYTES)
        except (DatabaseError, OSError) as exc:
            # A database restart or a store outage ends this follow, not the client's: it resumes.
            reason = f"cannot read the step now ({type(exc).__name__}); reconnect with Last-Event-ID"
            yield _event(
                "end", json.dumps({"state": last_state, "complete": False, "next_offset": offset, "reason": reason})
            )
            return
        if current is None:
            yield _event(
                "end",
                json.dumps({"state": None, "complete": False, "next_offset": offset, "reason": "execution deleted"}),
            )
            return
        step = current
        final = step.state in FINAL_STATES  # read before the log: the log is at least this fresh
        if chunk.data:
            text = decoder.decode(chunk.data)
            offset = chunk.next_offset
            held = len(decoder.getstate()[0])  # bytes of a character split across pages
            if text:
                yield _event("log", text, offset - held)
                last_write = time.monotonic()
        if step.state != last_state:
            last_state = step.state
            yield _event("state", _state(step))
            last_write = time.monotonic()
        now = time.monotonic()
        if final:
            final_since = final_since if final_since is not None else now
        reason = ""
        if final and chunk.complete:
            reason = "step ended"
        elif final and now - final_since >= final_grace:
            reason = "step ended; its log was not stored completely"
        elif now - started >= max_seconds:
            reason = f"follow stopped after {max_seconds:g} s; reconnect with Last-Event-ID to go on"
        if reason:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield _event("log", tail, offset)
            body = {"state": step.state, "complete": chunk.complete, "next_offset": offset, "reason": reason}
            yield _event("end", json.dumps(body))
            return
        if chunk.data and len(chunk.data) >= PAGE_BYTES:
            continue  # more is waiting: no pause
        if now - last_write >= keepalive:
            yield b": keep-alive\n\n"
            last_write = now
        time.sleep(interval)


def sse_log_response(step: StepRun, offset: int) -> StreamingHttpResponse:
    interval = float(getattr(settings, "LOG_FOLLOW_INTERVAL_SECONDS", 0.2))
    max_seconds = float(getattr(settings, "LOG_FOLLOW_MAX_SECONDS", 3600))
    response = StreamingHttpResponse(
        follow_events(step, offset, interval=interval, max_seconds=max_seconds),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


# OpenAPI 3.0 has the schema of an event stream describe one event.
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["log", "state", "end"]},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "log events: the byte offset after them"},
        "data": {"type": "string", "description": "log: the text; state and end: a JSON object"},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["event", "data"],
}
_INDEX = {"type": "integer", "minimum": 0, "maximum": 32767}
_HEADERS = [
    OpenApiParameter(
        "X-Log-Next-Offset", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[200],
        description="text/plain only: the offset to ask for next.",
    ),
    OpenApiParameter(
        "X-Log-Complete", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200], enum=["true", "false"],
        description="text/plain only: true when the step ended and this page reaches the end of its log.",
    ),
    OpenApiParameter(
        "X-Step-State", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
        description="text/plain only: the step's state when the page was read.",
    ),
]  # fmt: skip

log_schema = extend_schema(
    summary="Read or follow a step's log",
    description=(
        "Without `follow`: up to 1 MiB of the log from byte `offset` as `text/plain`; "
        "`X-Log-Next-Offset` is where to continue and `X-Log-Complete` is `true` once the step "
        "ended and the page reaches the end. With `follow=1`: server-sent events until the step "
        "ends: `log` (each line of the text in its own `data:` line; `id` is the byte offset after "
        "it, so reconnecting with `Last-Event-ID` resumes), `state` (JSON: state, exit_code, reason) "
        "on each change, and a final `end` (JSON: state, complete, next_offset, reason); close the "
        "event source on `end`. Stage and step are 0-based indexes as in the execution detail."
    ),
    parameters=[
        OpenApiParameter("stage", _INDEX, OpenApiParameter.PATH, description="0-based stage index"),
        OpenApiParameter("step", _INDEX, OpenApiParameter.PATH, description="0-based step index"),
        OpenApiParameter(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            OpenApiParameter.QUERY,
            description="Byte offset to start from (default 0).",
        ),
        OpenApiParameter(
            "follow", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Stream server-sent events until the end."
        ),
        OpenApiParameter(
            "Last-Event-ID",
            {"type": "string", "pattern": "^[0-9]{1,15}$"},
            OpenApiParameter.HEADER,
            description="With follow: the last event id received; overrides offset.",
        ),
        *_HEADERS,
    ],  # fmt: skip
    responses={
        (200, "text/plain"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The log bytes from `offset`.",
            examples=[OpenApiExample("page", value="Cloning into 'app'...\n", media_type="text/plain")],
        ),
        (200, "text/event-stream"): OpenApiResponse(SSE_EVENT, description="Server-sent events (follow=1)."),
    },
)
