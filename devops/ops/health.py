"""Readiness: can this process reach the database, the broker and the log store right now?

Each dependency is checked in its own short-lived thread with its own short timeout (connect
timeouts of READYZ_TIMEOUT_SECONDS, no retries), and the whole answer waits at most that long: a
dependency that does not answer in time is reported as failing, named, with why. A check still
running from an earlier probe (a host that drops packets) is joined, not started again, so probes
every few seconds cannot pile up threads or connections.

Failure reasons are exception texts, redacted: no passwords, tokens or URLs with credentials. The
liveness side (``/healthz``) deliberately checks nothing: a process that answers HTTP is alive, and
restarting it because PostgreSQL is down would not help.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from .logging import REDACTED, redact

__all__ = ["CheckResult", "readiness"]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "ms": round(self.ms, 1)}


@dataclass(frozen=True)
class Check:
    """One dependency: its name in the answer, a key naming its target (so a probe joins an earlier
    run only for the same target), and the function that raises when it is unreachable."""

    name: str
    target: str
    run: Callable[[float], str]


_inflight: dict[tuple[str, str], Future[CheckResult]] = {}
_inflight_lock = threading.Lock()


def _timeout() -> float:
    return max(0.5, float(getattr(settings, "READYZ_TIMEOUT_SECONDS", 3.0)))


def _secrets() -> list[str]:
    """Configured secret values that must not appear in a reason even if a library echoes them."""
    values = [settings.DATABASES["default"].get("PASSWORD") or "", getattr(settings, "S3_SECRET_KEY", "") or ""]
    for url in (settings.CELERY_BROKER_URL, getattr(settings, "LIVE_LOG", "")):
        try:
            values.append(urlsplit(url).password or "")
        except ValueError:
            continue
    return [v for v in values if len(v) >= 3]


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    for secret in _secrets():
        text = text.replace(secret, REDACTED)
    return redact(text)[:500]


def _writable(directory: Path) -> None:
    """Create the directory if needed and write (then remove) a dot-file in it.

    A real write, not ``os.access``: root passes any access check, and a read-only mount or a full
    disk only shows on writing. Dot-files are ignored by the filesystem broker and the log store.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".readyz-", suffix=".tmp")
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(name)


# --- the checks ------------------------------------------------------------------------------------
def check_database(timeout: float) -> str:
    """``SELECT 1`` on a fresh connection (not the request's: that one may be mid-transaction)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    conn = connections.create_connection(DEFAULT_DB_ALIAS)
    if conn.vendor == "postgresql":
        options = {**conn.settings_dict.get("OPTIONS", {}), "connect_timeout": max(2, int(timeout))}
        conn.settings_dict = {**conn.settings_dict, "OPTIONS": options}
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()
    return f"{conn.vendor}: SELECT 1 answered"


def _redis_ping(url: str, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def check_broker(timeout: float) -> str:
    url = settings.CELERY_BROKER_URL
    scheme = url.split("://", 1)[0].lower()
    if scheme.startswith("filesystem"):
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        folders = {options.get("data_folder_in"), options.get("data_folder_out")} - {None}
        if not folders:
            raise RuntimeError("the filesystem broker has no data_folder_in/data_folder_out")
        for folder in sorted(folders):
            _writable(Path(folder))
        return "filesystem broker folder writable"
    if scheme in ("redis", "rediss", "unix"):
        _redis_ping(url, timeout)
        return "redis: PING answered"
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)
    return f"{scheme}: connected"


def check_log_store(timeout: float) -> str:
    spec = settings.LOG_STORE
    if spec == "filesystem":
        _writable(Path(settings.LOG_ROOT))
        return "filesystem log store writable"
    if not spec.startswith("s3://"):
        raise ValueError(f'LOG_STORE must be "filesystem" or "s3://BUCKET", got {spec!r}')
    import urllib3
    from minio import Minio

    bucket = spec[len("s3://") :].strip("/")
    url = urlsplit(settings.S3_ENDPOINT_URL or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("S3_ENDPOINT_URL must look like http://host:port")
    # The store's own client retries for minutes; a probe wants one short try.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=urllib3.Retry(total=0, redirect=0)
    )
    host = url.hostname + (f":{url.port}" if url.port else "")
    client = Minio(host, access_key=settings.S3_ACCESS_KEY, secret_key=settings.S3_SECRET_KEY,
                   secure=url.scheme == "https", region=settings.S3_REGION or None, http_client=http)  # fmt: skip
    try:
        if not client.bucket_exists(bucket):
            # Reachable and the credentials work; the store creates the bucket on its first write.
            return f"s3: bucket {bucket} does not exist yet (created on the first stored log)"
    finally:
        http.clear()
    return f"s3: bucket {bucket} reachable"


def check_live_log(timeout: float) -> str:
    _redis_ping(settings.LIVE_LOG, timeout)
    return "redis: PING answered"


def default_checks() -> list[Check]:
    """The dependencies of the current settings (targets include them, so changed settings —
    or a test's override — never join a probe of the old target)."""
    checks = [
        Check("database", repr(sorted((k, str(v)) for k, v in settings.DATABASES["default"].items())), check_database),
        Check("broker", settings.CELERY_BROKER_URL + repr(settings.CELERY_BROKER_TRANSPORT_OPTIONS), check_broker),
        Check(
            "log_store",
            repr((settings.LOG_STORE, str(settings.LOG_ROOT), settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY)),
            check_log_store,
        ),
    ]
    live = getattr(settings, "LIVE_LOG", "filesystem")
    if live.split("://", 1)[0] in ("redis", "rediss", "unix"):
        checks.append(Check("live_log", live, check_live_log))
    return checks


# --- running them ----------------------------------------------------------------------------------
def _run(check: Check, timeout: float, future: Future[CheckResult], key: tuple[str, str]) -> None:
    started = time.monotonic()
    try:
        detail = check.run(timeout)
        future.set_result(CheckResult(True, detail, (time.monotonic() - started) * 1000))
    except BaseException as exc:  # noqa: BLE001 - every failure is an answer, named
        future.set_result(CheckResult(False, _reason(exc), (time.monotonic() - started) * 1000))
    finally:
        with _inflight_lock:
            if _inflight.get(key) is future:
                del _inflight[key]


def _start(check: Check, timeout: float) -> Future[CheckResult]:
    key = (check.name, check.target)
    with _inflight_lock:
        future = _inflight.get(key)
        if future is None:
            future = _inflight[key] = Future()
            thread = threading.Thread(
                target=_run, args=(check, timeout, future, key), name=f"readyz-{check.name}", daemon=True
            )
            thread.start()
    return future


def readiness(checks: list[Check] | None = None, timeout: float | None = None) -> tuple[bool, dict[str, Any]]:
    """(all ok, {name: {"ok", "detail", "ms"}}) within ``timeout`` seconds (READYZ_TIMEOUT_SECONDS)."""
    timeout = _timeout() if timeout is None else timeout
    checks = default_checks() if checks is None else checks
    started = time.monotonic()
    futures = {check.name: _start(check, timeout) for check in checks}
    results: dict[str, Any] = {}
    for name, future in futures.items():
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            result = future.result(timeout=remaining + 0.25)
        except TimeoutError:
            result = CheckResult(False, f"no answer within {timeout:g}s", (time.monotonic() - started) * 1000)
        results[name] = result.as_dict()
    return all(r["ok"] for r in results.values()), results
