"""Fixtures for the log tests: a real S3 server (moto) and a real Redis, both over the network."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``host:port`` of a moto S3 server started for this test session."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited early with code {proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answered, even if with an error status
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto server did not answer within 30s")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_store(s3_endpoint: str):
    """A store on a fresh bucket (created by the store itself on first write)."""
    from devops.logs.stores import S3LogStore

    bucket = f"logs-{uuid.uuid4().hex[:12]}"
    return S3LogStore(s3_endpoint, "testing", "testing", bucket, secure=False, region="us-east-1")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def redis_live(redis_url: str, tmp_path) -> Iterator:
    """A RedisLiveLog under a unique key prefix; every key under it is deleted afterwards."""
    import redis

    from devops.logs.live import RedisLiveLog

    prefix = f"test:devops:livelog:{uuid.uuid4().hex}:"
    live = RedisLiveLog(redis_url, ttl_seconds=300, key_prefix=prefix, spool_dir=tmp_path / "spool")
    yield live
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
