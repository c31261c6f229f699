"""The settings-free builders behind get_log_store / get_live_log."""

from __future__ import annotations

from pathlib import Path

import pytest

from devops.logs import (
    FilesystemLiveLog,
    FilesystemLogStore,
    RedisLiveLog,
    S3LogStore,
    build_live_log,
    build_log_store,
)


def test_build_filesystem_store(tmp_path):
    store = build_log_store("filesystem", root=str(tmp_path))
    assert isinstance(store, FilesystemLogStore) and store.root == Path(tmp_path)
    with pytest.raises(ValueError):
        build_log_store("filesystem")


def test_build_s3_store():
    store = build_log_store(
        "s3://ci-logs", endpoint_url="https://minio.example:9000", access_key="a", secret_key="b"
    )
    assert isinstance(store, S3LogStore) and store.bucket == "ci-logs"
    for spec, url in [
        ("s3://", "http://x:1"),
        ("s3://a/b", "http://x:1"),
        ("s3://a", None),
        ("s3://a", "minio:9000"),
        ("gcs://a", "http://x:1"),
    ]:
        with pytest.raises(ValueError):
            build_log_store(spec, endpoint_url=url)


def test_build_live_logs(tmp_path):
    live = build_live_log("filesystem", spool_dir=tmp_path)
    assert isinstance(live, FilesystemLiveLog)
    redis_live = build_live_log("redis://127.0.0.1:6379/0", spool_dir=tmp_path, ttl_seconds=60)
    assert isinstance(redis_live, RedisLiveLog) and redis_live.ttl_seconds == 60
    for bad in ("filesystem", "memcached://x", ""):
        with pytest.raises(ValueError):
            build_live_log(bad)
