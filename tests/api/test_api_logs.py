"""``/api/v1/executions/{id}/logs/{stage}/{step}/``: pages as text/plain from an offset, and the live
follow as server-sent events (through a real HTTP server and the real worker).

Logs are read from the configured stores: the stored-log tests put a file in the final store (or
append to the live buffer) under the step's key, exactly as the runner does, so bytes can be compared
one for one.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from devops.logs import get_live_log, get_log_store, log_key
from devops.models import PipelineExecution, ProjectMember, StepRun
from devops.states import State

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig: {image: alpine, shellScript: 'echo compiled'}
"""
# Multi-byte characters, a CR, a long line and no final newline: what a byte-exact reader must keep.
LOG = ("first line\nsecond: héllo wörld ✓\r\nprogress 10%\rprogress 100%\n" + "x" * 5000 + "\nlast line").encode()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def setup(make_repo, make_pipeline, trigger, django_user_model, h):
    """A queued execution (stage 1 step 0 is ``compile``), a viewer of its project and an outsider."""
    pipeline = make_pipeline(make_repo(PIPELINE))
    execution = trigger(pipeline)
    viewer = django_user_model.objects.create_user(h.unique_name("viewer"))
    ProjectMember.objects.create(project=pipeline.project, user=viewer, role="viewer")
    outsider = django_user_model.objects.create_user(h.unique_name("outsider"))
    step = StepRun.objects.get(execution=execution, stage_index=1, index=0)
    key = log_key(pipeline.project.name, pipeline.name, execution.run, 1, 0)
    url = f"/api/v1/executions/{execution.pk}/logs/1/0/"
    return type("Setup", (), {"execution": execution, "viewer": viewer, "outsider": outsider, "step": step,
                              "key": key, "url": url})  # fmt: skip


def store_log(step: StepRun, key: str, data: bytes, tmp_path, state: str = State.SUCCESS) -> None:
    path = tmp_path / "step.log"
    path.write_bytes(data)
    get_log_store().put_file(key, path)
    StepRun.objects.filter(pk=step.pk).update(log_key=key, state=state, exit_code=0)


def parse_events(raw: bytes) -> list[dict[str, object]]:
    """SSE as a browser reads it: fields per blank-line separated block, data lines joined by LF."""
    events = []
    for block in raw.decode().split("\n\n"):
        fields: dict[str, object] = {"data": []}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                fields["data"].append(value)
            else:
                fields[name] = value
        if "event" in fields:
            fields["data"] = "\n".join(fields["data"])
            events.append(fields)
    return events


def log_text(events) -> str:
    return "".join(e["data"] for e in events if e["event"] == "log")


# --- text/plain pages ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_pages_from_offsets_are_the_stored_bytes(setup, tmp_path):
    store_log(setup.step, setup.key, LOG, tmp_path)
    stored = get_log_store().read(setup.key)
    assert stored == LOG
    client = client_for(setup.viewer)
    for offset in (0, 1, 13, 20, len(LOG) - 1):
        response = client.get(f"{setup.url}?offset={offset}")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content == stored[offset:]
        assert response["X-Log-Next-Offset"] == str(len(stored))
        assert response["X-Log-Complete"] == "true"
        assert response["X-Step-State"] == "Success"
    # Past the end: nothing, but still complete and pointing at the end.
    # (2**44 is past the largest file ext4 can seek in: still just "past the end", never a 500.)
    for offset in (len(LOG), len(LOG) + 1000, 2**44 + 1, 2**53 - 1):
        response = client.get(f"{setup.url}?offset={offset}")
        assert response.status_code == 200 and response.content == b""
        assert response["X-Log-Complete"] == "true" and response["X-Log-Next-Offset"] == str(offset)
    # The default offset is 0, and a text/plain Accept is fine.
    response = client.get(setup.url, HTTP_ACCEPT="text/plain")
    assert response.content == stored


@pytest.mark.django_db
def test_a_running_step_reads_from_the_live_buffer_and_is_not_complete(setup):
    StepRun.objects.filter(pk=setup.step.pk).update(log_key=setup.key, state=State.BUILDING)
    live = get_live_log()
    live.append(setup.key, b"half a li")
    try:
        client = client_for(setup.viewer)
        response = client.get(setup.url)
        assert response.content == b"half a li" and response["X-Log-Complete"] == "false"
        assert response["X-Log-Next-Offset"] == "9" and response["X-Step-State"] == "Building"
        live.append(setup.key, b"ne\nmore\n")
        response = client.get(f"{setup.url}?offset=9")
        assert response.content == b"ne\nmore\n" and response["X-Log-Next-Offset"] == "17"
        assert response["X-Log-Complete"] == "false"
    finally:
        live.discard(setup.key)


@pytest.mark.django_db
def test_a_step_without_a_log_reads_empty_and_completes_once_final(setup):
    client = client_for(setup.viewer)
    response = client.get(setup.url)  # queued: no log key yet
    assert response.status_code == 200 and response.content == b""
    assert response["X-Log-Complete"] == "false" and response["X-Log-Next-Offset"] == "0"
    StepRun.objects.filter(pk=setup.step.pk).update(state=State.SKIPPED)
    response = client.get(setup.url)
    assert response.content == b"" and response["X-Log-Complete"] == "true"


@pytest.mark.django_db
def test_bad_input_is_json(setup):
    client = client_for(setup.viewer)
    base = f"/api/v1/executions/{setup.execution.pk}/logs"
    for url in (f"{base}/1/1/", f"{base}/9/0/", f"{base}/x/0/", f"{base}/1/99999999999/", f"{base}/-1/0/"):
        response = client.get(url, HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json"
        assert "no step" in response.json()["detail"]
    for query, field in (
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=1.5", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("offset=%EF%BC%91", "offset"),  # a full-width digit is not an integer here
        ("follow=maybe", "follow"),
        ("follow=1&offset=-5", "offset"),
    ):
        response = client.get(f"{setup.url}?{query}", HTTP_ACCEPT="text/plain")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/json"
        assert field in response.json()["errors"], response.json()
    response = client.get(f"{setup.url}?follow=1", HTTP_LAST_EVENT_ID="abc")
    assert response.status_code == 400 and "Last-Event-ID" in response.json()["errors"]


@pytest.mark.django_db
def test_viewers_read_logs_and_outsiders_get_404(setup, tmp_path):
    store_log(setup.step, setup.key, b"secret-free output\n", tmp_path)
    assert client_for(setup.viewer).get(setup.url).content == b"secret-free output\n"
    response = client_for(setup.outsider).get(setup.url)
    assert response.status_code == 404 and b"secret-free" not in response.content
    response = client_for(setup.outsider).get(f"{setup.url}?follow=1")
    assert response.status_code == 404 and not response.streaming
    assert APIClient().get(setup.url).status_code in (401, 403)


# --- server-sent events -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_follow_of_a_finished_step_sends_the_whole_log_then_end(setup, tmp_path):
    store_log(setup.step, setup.key, LOG, tmp_path)
    response = client_for(setup.viewer).get(f"{setup.url}?follow=1", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    events = parse_events(b"".join(response.streaming_content))
    assert [e["event"] for e in events] == ["log", "state", "end"]
    # Each line is its own data: line, so the joined data is the text (CRs as line breaks).
    assert log_text(events) == LOG.decode().replace("\r\n", "\n").replace("\r", "\n")
    assert events[0]["id"] == str(len(LOG))
    assert json.loads(events[1]["data"]) == {"state": "Success", "exit_code": 0, "reason": ""}
    end = json.loads(events[2]["data"])
    assert end["state"] == "Success" and end["complete"] is True and end["next_offset"] == len(LOG)


@pytest.mark.django_db
def test_follow_resumes_from_last_event_id_and_offset(setup, tmp_path):
    store_log(setup.step, setup.key, LOG, tmp_path)
    client = client_for(setup.viewer)
    # Last-Event-ID (a reconnecting EventSource) wins over the offset in the URL.
    response = client.get(f"{setup.url}?follow=1&offset=0", HTTP_LAST_EVENT_ID="11")
    events = parse_events(b"".join(response.streaming_content))
    assert log_text(events) == LOG[11:].decode().replace("\r\n", "\n").replace("\r", "\n")
    response = client.get(f"{setup.url}?follow=true&offset={len(LOG)}")
    events = parse_events(b"".join(response.streaming_content))
    assert [e["event"] for e in events] == ["state", "end"]
    # An offset inside a multi-byte character: the broken half reads as U+FFFD, never an error.
    split = LOG.index("é".encode()) + 1
    response = client.get(f"{setup.url}?follow=1&offset={split}")
    assert log_text(parse_events(b"".join(response.streaming_content))).startswith("\ufffdllo")


@pytest.mark.django_db
def test_follow_splits_no_character_across_events(setup, settings):
    """A page ending inside a multi-byte character holds those bytes back: the event id points
    before them and the next event carries the whole character."""
    settings.LOG_FOLLOW_INTERVAL_SECONDS = 0.01
    StepRun.objects.filter(pk=setup.step.pk).update(log_key=setup.key, state=State.BUILDING)
    live = get_live_log()
    check = "✓".encode()
    live.append(setup.key, b"ok " + check[:1])
    try:
        response = client_for(setup.viewer).get(f"{setup.url}?follow=1")
        stream = iter(response.streaming_content)
        assert next(stream).startswith(b"retry:")
        first = parse_events(next(stream))
        assert first == [{"event": "log", "id": "3", "data": "ok "}]
        live.append(setup.key, check[1:] + b"\n")
        events = []
        while not any(e["event"] == "log" for e in events):
            events += parse_events(next(stream))
        log = [e for e in events if e["event"] == "log"][0]
        assert log["data"] == "✓\n" and log["id"] == str(3 + len(check) + 1)
        response.close()  # the client goes away: the server closes the response and its generator
    finally:
        live.discard(setup.key)


@pytest.mark.django_db
def test_follow_gives_up_after_its_maximum_duration(setup, settings):
    settings.LOG_FOLLOW_MAX_SECONDS = 0.3
    settings.LOG_FOLLOW_INTERVAL_SECONDS = 0.05
    started = time.monotonic()
    response = client_for(setup.viewer).get(f"{setup.url}?follow=1")
    events = parse_events(b"".join(response.streaming_content))
    assert time.monotonic() - started < 5
    assert [e["event"] for e in events] == ["state", "end"]
    end = json.loads(events[-1]["data"])
    assert end["state"] == "Waiting" and end["complete"] is False and "Last-Event-ID" in end["reason"]


FOLLOWED = """\
stages:
  - name: Run
    steps:
      - name: talk
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "before"
            sleep 1
            echo "while-running-ünïcode"
            sleep 2
            echo "after"
"""


def read_events(response: http.client.HTTPResponse, deadline: float):
    """Yield (arrival time, event) as each SSE block arrives on the socket."""
    block = b""
    while time.monotonic() < deadline:
        line = response.readline()
        if not line:
            return
        block += line
        if line == b"\n":
            for event in parse_events(block):
                yield time.monotonic(), event
            block = b""
    raise AssertionError("the event stream did not end in time")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_follow_streams_a_running_step_over_http_until_it_ends(
    worker, live_server, make_repo, make_pipeline, trigger, django_user_model, h
):
    pipeline = make_pipeline(make_repo(FOLLOWED))
    user = django_user_model.objects.create_user(h.unique_name("viewer"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="viewer")
    token = Token.objects.create(user=user).key
    ex = trigger(pipeline)
    url = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request(
        "GET",
        f"/api/v1/executions/{ex.pk}/logs/1/0/?follow=1",
        headers={"Authorization": f"Token {token}", "Accept": "text/event-stream"},
    )
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    events = []
    try:
        for arrived, event in read_events(response, time.monotonic() + 60):
            event["step_state"] = StepRun.objects.get(execution=ex, stage_index=1, index=0).state
            events.append((arrived, event))
    finally:
        conn.close()
    kinds = [e["event"] for _, e in events]
    assert kinds[-1] == "end", kinds
    states = [json.loads(e["data"])["state"] for _, e in events if e["event"] == "state"]
    assert states[-1] == "Success" and "Building" in states, states
    # The line printed mid-step arrived while the step was still running, before its final state.
    (running_line,) = [(t, e) for t, e in events if e["event"] == "log" and "while-running-ünïcode" in e["data"]]
    assert running_line[1]["step_state"] == "Building"
    final_state_at = next(t for t, e in events if e["event"] == "state" and "Success" in e["data"])
    assert running_line[0] < final_state_at
    text = log_text([e for _, e in events])
    assert text.index("before") < text.index("while-running-ünïcode") < text.index("after")
    ex = PipelineExecution.objects.get(pk=ex.pk)
    stored = h.stored_log(StepRun.objects.get(execution=ex, stage_index=1, index=0))
    assert text == stored.replace("\r\n", "\n").replace("\r", "\n")
    end = json.loads(events[-1][1]["data"])
    assert end["complete"] is True and end["next_offset"] == len(stored.encode())
    # Every log event's id is the byte offset after it: resuming from any of them continues exactly.
    last_log_id = [e["id"] for _, e in events if e["event"] == "log"][-1]
    assert int(last_log_id) == len(stored.encode())
