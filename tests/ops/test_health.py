"""/healthz, /readyz and the Celery worker's heartbeat probe, against the real services.

The issue asks that /readyz name the failing dependency "when Redis is stopped". This machine's Redis
is shared with the other test sessions running beside this one, so one test starts a redis-server of
its own and shuts it down; the others point the broker URL at a port where nothing listens
(127.0.0.1:1), which the client sees exactly as it sees a stopped server (connection refused). The database and the
log store are made unreachable the same way (a port with no server, a directory that cannot exist).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from types import SimpleNamespace

import pytest
from celery.utils.timer2 import Timer
from django.core.management import call_command

from devops.ops.heartbeat import WorkerHeartbeat, heartbeat_path, touch


def _ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_is_alive_without_any_dependency(client, settings):
    """No database mark: pytest-django would fail any query, so this also proves none is made."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_all_dependencies_up(client):
    status, body = _ready(client)
    assert status == 200, body
    assert body["ok"] is True
    assert set(body["checks"]) >= {"database", "broker", "log_store"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"] == "postgresql: SELECT 1 answered"
    assert body["checks"]["broker"]["detail"] == "redis: PING answered"


@pytest.mark.django_db
def test_readyz_names_the_broker_when_redis_is_unreachable(client, settings):
    """Redis "stopped": nothing listens on 127.0.0.1:1 (see the module docstring)."""
    settings.CELERY_BROKER_URL = "redis://:broker-pass-123@127.0.0.1:1/0"
    status, body = _ready(client)
    assert status == 503
    assert body["ok"] is False
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert "Connection refused" in body["checks"]["broker"]["detail"]
    assert body["detail"].startswith("not ready: broker: ")
    assert body["checks"]["database"]["ok"] and body["checks"]["log_store"]["ok"]
    assert "broker-pass-123" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_names_the_broker_when_its_own_redis_server_is_stopped(client, settings, tmp_path):
    """A real Redis of this test's own (the shared one must keep running): ready while it runs, 503
    naming the broker once it is shut down."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "the test's redis-server never answered"
            time.sleep(0.05)
        settings.CELERY_BROKER_URL = url
        status, body = _ready(client)
        assert status == 200, body
        assert body["checks"]["broker"]["detail"] == "redis: PING answered"

        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        server.wait(timeout=10)
        status, body = _ready(client)
        assert status == 503
        assert body["failed"] == ["broker"]
        assert body["detail"].startswith("not ready: broker: ")
        assert body["checks"]["database"]["ok"] and body["checks"]["log_store"]["ok"]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_is_unreachable(client, monkeypatch):
    from django.db import connection

    # The check opens a fresh connection from these settings; the test's own connection stays as is.
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", "db-pass-456")
    status, body = _ready(client)
    assert status == 503
    assert body["failed"] == ["database"]
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["detail"].startswith("not ready: database: ")
    assert "db-pass-456" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_names_the_log_store_when_its_directory_is_unwritable(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.LOG_STORE = "filesystem"
    settings.LOG_ROOT = blocker / "logs"  # cannot be created: its parent is a file (root passes chmod)
    status, body = _ready(client)
    assert status == 503
    assert body["failed"] == ["log_store"]
    assert body["detail"].startswith("not ready: log store: ")


@pytest.mark.django_db
def test_readyz_s3_log_store(client, settings, s3_endpoint):
    from minio import Minio

    bucket = f"readyz-{uuid.uuid4().hex[:8]}"
    settings.LOG_STORE = f"s3://{bucket}"
    settings.S3_ENDPOINT_URL = f"http://{s3_endpoint}"
    settings.S3_ACCESS_KEY, settings.S3_SECRET_KEY = "minio-access", "s3-secret-789"
    status, body = _ready(client)
    assert status == 200, body
    assert "does not exist yet" in body["checks"]["log_store"]["detail"]  # reachable; created on first write
    Minio(s3_endpoint, access_key="minio-access", secret_key="s3-secret-789", secure=False).make_bucket(bucket)
    status, body = _ready(client)
    assert status == 200, body
    assert body["checks"]["log_store"]["detail"] == f"s3: bucket {bucket} reachable"

    settings.S3_ENDPOINT_URL = "http://127.0.0.1:1"
    status, body = _ready(client)
    assert status == 503
    assert body["failed"] == ["log_store"]
    assert "s3-secret-789" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_filesystem_broker(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    folder = tmp_path / "broker"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    status, body = _ready(client)
    assert status == 200, body
    assert body["checks"]["broker"]["detail"] == "filesystem broker folder writable"
    assert [p.name for p in folder.iterdir()] == []  # the probe's file is gone (and was a dot-file)

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(blocker / "in"), "data_folder_out": str(folder)}
    status, body = _ready(client)
    assert status == 503
    assert body["failed"] == ["broker"]


@pytest.mark.django_db
def test_readyz_answers_within_its_timeout_when_a_dependency_is_silent(client, settings):
    """A server that accepts the connection and never answers (a hung Redis) costs the probe its
    timeout, not the client's default of minutes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.READYZ_TIMEOUT_SECONDS = 1
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        status, body = _ready(client)
        assert time.monotonic() - started < 4
    assert status == 503
    assert body["failed"] == ["broker"]


# --- the worker's heartbeat -------------------------------------------------------------------------
def _probe(*args: str) -> int:
    try:
        call_command("workerprobe", *args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def test_workerprobe_fresh_stale_and_missing(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert _probe() == 1  # no heartbeat at all
    name = f"celery-probe@{socket.gethostname()}"
    path = touch(name)
    assert path == tmp_path / "heartbeats" / name
    assert _probe("--max-age", "60") == 0
    assert _probe("--hostname", name) == 0
    assert _probe("--hostname", "other@elsewhere") == 1
    old = time.time() - 120
    os.utime(path, (old, old))
    assert _probe("--max-age", "60") == 1
    assert _probe("--max-age", "300") == 0


def test_heartbeat_bootstep_touches_on_the_consumers_timer_and_removes_on_shutdown(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.WORKER_HEARTBEAT_SECONDS = 0.1
    gone = touch("killed@test-host")  # a worker killed two days ago never removed its own
    os.utime(gone, (time.time() - 2 * 86400,) * 2)
    timer = Timer()
    consumer = SimpleNamespace(hostname="step@test-host", timer=timer)
    step = WorkerHeartbeat(consumer)
    try:
        step.start(consumer)
        assert not gone.exists()
        path = heartbeat_path("step@test-host")
        first = path.stat().st_mtime_ns
        deadline = time.monotonic() + 5
        while path.stat().st_mtime_ns == first:
            assert time.monotonic() < deadline, "the heartbeat was not written again"
            time.sleep(0.05)
        assert json.loads(path.read_text())["hostname"] == "step@test-host"
        step.shutdown(consumer)
        assert not path.exists()
    finally:
        timer.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_real_worker_keeps_a_fresh_heartbeat(worker, h):
    path = heartbeat_path(worker.name)
    h.wait_until(path.exists, 15, f"no heartbeat at {path}")
    assert json.loads(path.read_text())["hostname"] == worker.name
    argv = [h.python, "manage.py", "workerprobe", "--hostname", worker.name, "--max-age", "60"]
    probe = subprocess.run(argv, cwd=h.base_dir, env=worker.env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith(f"{worker.name}: heartbeat ")
    stale = subprocess.run([*argv[:-1], "0.000001"], cwd=h.base_dir, env=worker.env, capture_output=True, text=True)
    assert stale.returncode == 1
    assert "last heartbeat" in stale.stderr
