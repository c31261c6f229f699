"""Fixtures for the log tests: a store on the session's real S3 server (moto, in tests/conftest.py) and
a real Redis, both over the network."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


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
