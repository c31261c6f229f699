"""Per-step logs: live appends while a step runs, a final store when it ends, secret masking.

``StepLogWriter`` masks and appends a running step's output to a ``LiveLog``; on close it streams
the complete log into a ``LogStore``. ``read_log`` serves both states by byte offset. The factories
below build the configured backends from Django settings, lazily (importing this package never needs
settings) and cached per settings values:

* ``LOG_STORE``: ``"filesystem"`` (under ``LOG_ROOT``) or ``"s3://BUCKET"`` (with ``S3_ENDPOINT_URL``
  such as ``http://127.0.0.1:9000``, ``S3_ACCESS_KEY``, ``S3_SECRET_KEY``, optional ``S3_REGION``).
* ``LIVE_LOG``: ``"filesystem"`` (under ``LOG_SPOOL_DIR``) or a ``redis://`` / ``rediss://`` /
  ``unix://`` URL (optional ``LIVE_LOG_TTL_SECONDS``, default one day; hand-over files go to
  ``LOG_SPOOL_DIR`` when set, else the system temp dir).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .keys import log_key, validate_key
from .live import FilesystemLiveLog, LiveLog, RedisLiveLog
from .masking import SecretMasker
from .reader import LogChunk, read_log
from .stores import FilesystemLogStore, LogStore, S3LogStore
from .writer import StepLogWriter

__all__ = [
    "DEFAULT_LIVE_LOG_TTL_SECONDS",
    "FilesystemLiveLog",
    "FilesystemLogStore",
    "LiveLog",
    "LogChunk",
    "LogStore",
    "RedisLiveLog",
    "S3LogStore",
    "SecretMasker",
    "StepLogWriter",
    "build_live_log",
    "build_log_store",
    "get_live_log",
    "get_log_store",
    "log_key",
    "read_log",
    "validate_key",
]

DEFAULT_LIVE_LOG_TTL_SECONDS = 24 * 3600

_cache: dict[tuple[Any, ...], Any] = {}
_cache_lock = threading.Lock()


def build_log_store(
    spec: str,
    *,
    root: str | Path | None = None,
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
) -> LogStore:
    """Build a store from a ``LOG_STORE`` value; separate from settings so it can be tested alone."""
    if spec == "filesystem":
        if not root:
            raise ValueError('LOG_STORE="filesystem" needs LOG_ROOT')
        return FilesystemLogStore(Path(root))
    if spec.startswith("s3://"):
        bucket = spec[len("s3://") :].strip("/")
        if not bucket or "/" in bucket:
            raise ValueError(f"LOG_STORE must be s3://BUCKET, got {spec!r}")
        if not endpoint_url:
            raise ValueError("an s3:// LOG_STORE needs S3_ENDPOINT_URL")
        url = urlsplit(endpoint_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"S3_ENDPOINT_URL must look like http://host:port, got {endpoint_url!r}")
        return S3LogStore(
            url.netloc,
            access_key or "",
            secret_key or "",
            bucket,
            secure=url.scheme == "https",
            region=region or None,
        )
    raise ValueError(f'LOG_STORE must be "filesystem" or "s3://BUCKET", got {spec!r}')


def build_live_log(
    spec: str,
    *,
    spool_dir: str | Path | None = None,
    ttl_seconds: int = DEFAULT_LIVE_LOG_TTL_SECONDS,
) -> LiveLog:
    """Build a live buffer from a ``LIVE_LOG`` value."""
    if spec == "filesystem":
        if not spool_dir:
            raise ValueError('LIVE_LOG="filesystem" needs LOG_SPOOL_DIR')
        return FilesystemLiveLog(Path(spool_dir))
    if spec.split("://", 1)[0] in ("redis", "rediss", "unix"):
        return RedisLiveLog(spec, ttl_seconds, spool_dir=Path(spool_dir) if spool_dir else None)
    raise ValueError(f'LIVE_LOG must be "filesystem" or a redis:// URL, got {spec!r}')


def _cached(kind: str, values: tuple[Any, ...], build: Any) -> Any:
    cache_key = (kind, *values)
    with _cache_lock:
        instance = _cache.get(cache_key)
        if instance is None:
            instance = _cache[cache_key] = build()
        return instance


def get_log_store() -> LogStore:
    """The configured final store (``settings.LOG_STORE``), one instance per settings values."""
    from django.conf import settings

    values = (
        settings.LOG_STORE,
        str(getattr(settings, "LOG_ROOT", "") or ""),
        getattr(settings, "S3_ENDPOINT_URL", None),
        getattr(settings, "S3_ACCESS_KEY", None),
        getattr(settings, "S3_SECRET_KEY", None),
        getattr(settings, "S3_REGION", None),
    )
    spec, root, endpoint_url, access_key, secret_key, region = values
    return _cached(
        "store",
        values,
        lambda: build_log_store(
            spec,
            root=root,
            endpoint_url=endpoint_url,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
        ),
    )


def get_live_log() -> LiveLog:
    """The configured live buffer (``settings.LIVE_LOG``), one instance per settings values."""
    from django.conf import settings

    values = (
        settings.LIVE_LOG,
        str(getattr(settings, "LOG_SPOOL_DIR", "") or ""),
        int(getattr(settings, "LIVE_LOG_TTL_SECONDS", DEFAULT_LIVE_LOG_TTL_SECONDS)),
    )
    spec, spool_dir, ttl = values
    return _cached("live", values, lambda: build_live_log(spec, spool_dir=spool_dir, ttl_seconds=ttl))
