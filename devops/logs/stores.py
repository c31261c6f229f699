"""The final log store: where a step's complete log lives once the step has ended.

The contract is deliberately small (put a whole file, read a byte range, size, delete by prefix) so a
filesystem directory and any S3-compatible service fit it equally well. Logs can be large, so nothing
here holds a whole log in memory: ``put_file`` streams from disk and ``read`` returns one range.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path

from .keys import validate_key, validate_prefix

__all__ = ["FilesystemLogStore", "LogStore", "S3LogStore"]

_COPY_BUFFER = 1024 * 1024


def _check_range(offset: int, limit: int | None) -> None:
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")


class LogStore(ABC):
    """Complete, immutable step logs, addressed by key (see ``keys.log_key``)."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``, replacing any previous value; streamed."""

    @abstractmethod
    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        """Up to ``limit`` bytes (all when None) from ``offset``; b"" past the end; None if no key."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The stored log's length in bytes, or None if there is no such key."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (plain string prefix); return how many."""


class FilesystemLogStore(LogStore):
    """Logs as files under ``root``; the embedded default.

    Writes go to a temporary file in the destination directory and are renamed into place with
    ``os.replace``, so a reader sees either no log or the whole log, never a half-written one.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as dst, open(path, "rb") as src:
                shutil.copyfileobj(src, dst, _COPY_BUFFER)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise

    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        _check_range(offset, limit)
        try:
            with open(self._path(key), "rb") as f:
                if limit == 0:
                    return b""
                f.seek(offset)
                return f.read() if limit is None else f.read(limit)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def size(self, key: str) -> int | None:
        try:
            path = self._path(key)
            return path.stat().st_size if path.is_file() else None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        # Only the directory named by the prefix's complete segments can hold matching keys.
        directory, _, name_prefix = prefix.rpartition("/")
        base = self.root.joinpath(*directory.split("/")) if directory else self.root
        if not base.is_dir():
            return 0
        deleted = 0
        for entry in list(base.iterdir()):
            if not entry.name.startswith(name_prefix) or entry.name.startswith("."):
                continue
            if entry.is_dir() and not entry.is_symlink():
                deleted += sum(1 for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
                deleted += 1
        self._prune_empty(base)
        return deleted

    def _prune_empty(self, directory: Path) -> None:
        """Remove now-empty parent directories up to (not including) the root."""
        root = self.root.resolve()
        current = directory.resolve()
        while current != root and root in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent


class S3LogStore(LogStore):
    """Logs as objects in an S3-compatible bucket (MinIO in production), via the ``minio`` client.

    ``endpoint`` is ``host[:port]`` (no scheme; ``secure`` picks https). The bucket is created on the
    first write if missing, not in the constructor, so building a store never needs the network.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str | None = None,
        part_size: int = 0,
    ) -> None:
        from minio import Minio

        if "://" in endpoint or "/" in endpoint:
            raise ValueError(f"S3 endpoint must be host[:port] without scheme or path, got {endpoint!r}")
        self.bucket = bucket
        self.part_size = part_size  # 0: let minio choose (>= 5 MiB, multipart above that)
        self._client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region or None
        )
        self._bucket_ready = False
        self._lock = threading.Lock()

    @staticmethod
    def _is_missing(exc: Exception) -> bool:
        code = getattr(exc, "code", None)
        response = getattr(exc, "response", None)
        status = getattr(response, "status", None)
        return code in ("NoSuchKey", "NoSuchBucket", "ResourceNotFound") or status == 404

    def _ensure_bucket(self) -> None:
        from minio.error import S3Error

        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as exc:  # another worker created it first
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True

    def put_file(self, key: str, path: Path) -> None:
        validate_key(key)
        self._ensure_bucket()
        self._client.fput_object(
            self.bucket,
            key,
            str(path),
            content_type="text/plain; charset=utf-8",
            part_size=self.part_size,
        )

    def read(self, key: str, offset: int = 0, limit: int | None = None) -> bytes | None:
        from minio.error import S3Error

        validate_key(key)
        _check_range(offset, limit)
        if limit == 0:
            return b"" if self.size(key) is not None else None
        try:
            response = self._client.get_object(self.bucket, key, offset=offset, length=limit or 0)
        except S3Error as exc:
            if self._is_missing(exc):
                return None
            if exc.code == "InvalidRange":  # offset at or past the end of an existing object
                return b""
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def size(self, key: str) -> int | None:
        from minio.error import S3Error

        validate_key(key)
        try:
            return self._client.stat_object(self.bucket, key).size
        except S3Error as exc:
            if self._is_missing(exc):
                return None
            raise

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject
        from minio.error import S3Error

        validate_prefix(prefix)
        try:
            names = [
                obj.object_name
                for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if obj.object_name is not None and not obj.is_dir
            ]
        except S3Error as exc:
            if self._is_missing(exc):
                return 0
            raise
        if not names:
            return 0
        errors = list(self._client.remove_objects(self.bucket, (DeleteObject(n) for n in names)))
        if errors:
            raise RuntimeError(f"failed to delete {len(errors)} log object(s) under {prefix!r}: {errors[0]}")
        return len(names)
