"""LogStore implementations: the filesystem store and the S3 store against a real (moto) server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from devops.logs.stores import FilesystemLogStore, LogStore


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _contract(store: LogStore, tmp_path: Path) -> None:
    """Behaviour every LogStore must share."""
    data = bytes(range(256)) * 40  # 10 KiB, every byte value
    store.put_file("proj/pipe/1/0-0.log", _write(tmp_path / "a", data))
    assert store.size("proj/pipe/1/0-0.log") == len(data)
    assert store.read("proj/pipe/1/0-0.log") == data
    assert store.read("proj/pipe/1/0-0.log", 100) == data[100:]
    assert store.read("proj/pipe/1/0-0.log", 100, 50) == data[100:150]
    assert store.read("proj/pipe/1/0-0.log", len(data) - 5, 50) == data[-5:]
    assert store.read("proj/pipe/1/0-0.log", len(data)) == b""
    assert store.read("proj/pipe/1/0-0.log", len(data) + 100, 10) == b""
    assert store.read("proj/pipe/1/0-0.log", 10, 0) == b""

    # Missing keys: None, not b"".
    assert store.read("proj/pipe/1/9-9.log") is None
    assert store.read("proj/pipe/1/9-9.log", 0, 0) is None
    assert store.size("proj/pipe/1/9-9.log") is None

    # Empty log exists and is empty.
    store.put_file("proj/pipe/1/0-1.log", _write(tmp_path / "empty", b""))
    assert store.size("proj/pipe/1/0-1.log") == 0
    assert store.read("proj/pipe/1/0-1.log") == b""
    assert store.read("proj/pipe/1/0-1.log", 5, 5) == b""

    # Replacing a key replaces the whole value.
    store.put_file("proj/pipe/1/0-0.log", _write(tmp_path / "b", b"short"))
    assert store.read("proj/pipe/1/0-0.log") == b"short"

    store.put_file("proj/pipe/2/0-0.log", _write(tmp_path / "c", b"run 2"))
    store.put_file("proj/pipe/10/0-0.log", _write(tmp_path / "d", b"run 10"))
    store.put_file("proj/other/1/0-0.log", _write(tmp_path / "e", b"other"))
    store.put_file("proj2/pipe/1/0-0.log", _write(tmp_path / "f", b"proj2"))

    assert store.delete_prefix("proj/pipe/1/0-1") == 1
    assert store.size("proj/pipe/1/0-1.log") is None
    assert store.delete_prefix("proj/pipe/1/") == 1
    assert store.read("proj/pipe/1/0-0.log") is None
    assert store.read("proj/pipe/2/0-0.log") == b"run 2"
    assert store.delete_prefix("proj/pipe/") == 2
    assert store.delete_prefix("proj/pipe/") == 0
    assert store.delete_prefix("proj/") == 1
    assert store.read("proj2/pipe/1/0-0.log") == b"proj2"
    assert store.delete_prefix("nothing/here/") == 0

    for bad in ("../escape.log", "/abs.log", "a\\b.log", "a/../b.log"):
        with pytest.raises(ValueError):
            store.put_file(bad, tmp_path / "a")
        with pytest.raises(ValueError):
            store.read(bad)
        with pytest.raises(ValueError):
            store.size(bad)
    with pytest.raises(ValueError):
        store.delete_prefix("")
    with pytest.raises(ValueError):
        store.read("proj2/pipe/1/0-0.log", -1)


# ---- filesystem ---------------------------------------------------------------------------------


def test_filesystem_contract(tmp_path):
    root = tmp_path / "logs"
    _contract(FilesystemLogStore(root), tmp_path)
    # delete_prefix pruned the emptied directories, nothing stray is left behind.
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "proj2",
        "proj2/pipe",
        "proj2/pipe/1",
        "proj2/pipe/1/0-0.log",
    ]


def test_filesystem_traversal_never_touches_outside(tmp_path):
    root = tmp_path / "root"
    store = FilesystemLogStore(root)
    outside = _write(tmp_path / "secret.txt", b"do not read")
    for key in ("../secret.txt", "a/../../secret.txt", str(outside), "..\\secret.txt"):
        with pytest.raises(ValueError):
            store.read(key)
        with pytest.raises(ValueError):
            store.put_file(key, outside)
    with pytest.raises(ValueError):
        store.delete_prefix("../")
    assert outside.read_bytes() == b"do not read"


def test_filesystem_put_is_atomic_and_leaves_no_temp_files(tmp_path):
    store = FilesystemLogStore(tmp_path / "root")
    store.put_file("p/q/1/0-0.log", _write(tmp_path / "x", b"first"))

    class Boom(Exception):
        pass

    class Exploding(os.PathLike):
        def __fspath__(self):
            raise Boom

    with pytest.raises(Boom):
        store.put_file("p/q/1/0-0.log", Exploding())  # type: ignore[arg-type]
    assert store.read("p/q/1/0-0.log") == b"first"
    assert [p.name for p in (tmp_path / "root/p/q/1").iterdir()] == ["0-0.log"]


def test_filesystem_large_file_streams(tmp_path):
    src = tmp_path / "big"
    with open(src, "wb") as f:
        f.writelines(hashlib.sha256(str(i).encode()).digest() * (1024 * 1024 // 32) for i in range(12))
    store = FilesystemLogStore(tmp_path / "root")
    store.put_file("p/q/1/0-0.log", src)
    assert store.size("p/q/1/0-0.log") == src.stat().st_size
    assert (
        store.read("p/q/1/0-0.log", 5 * 1024 * 1024 + 3, 100)
        == src.read_bytes()[5 * 1024 * 1024 + 3 : 5 * 1024 * 1024 + 103]
    )


# ---- S3 (moto server over HTTP) -----------------------------------------------------------------


def test_s3_contract(s3_store, tmp_path):
    _contract(s3_store, tmp_path)


def test_s3_multipart_put_and_ranged_reads(s3_store, tmp_path):
    src = tmp_path / "big.log"
    size = 12 * 1024 * 1024 + 12345
    with open(src, "wb") as f:
        written = 0
        i = 0
        while written < size:
            block = f"{i:08d} {hashlib.sha256(str(i).encode()).hexdigest()}\n".encode()
            block = block[: size - written]
            f.write(block)
            written += len(block)
            i += 1
    data = src.read_bytes()
    key = "proj/pipe/4/1-0.log"
    s3_store.put_file(key, src)

    stat = s3_store._client.stat_object(s3_store.bucket, key)
    assert stat.size == size
    assert stat.etag.endswith("-3"), f"expected a 3-part multipart upload, etag={stat.etag}"

    assert s3_store.size(key) == size
    for offset, limit in [(0, 10), (1, 1), (5 * 1024 * 1024 - 7, 20), (size - 10, 100), (12345, 1 << 20)]:
        assert s3_store.read(key, offset, limit) == data[offset : offset + limit]
    assert s3_store.read(key, size) == b""
    assert hashlib.sha256(s3_store.read(key)).hexdigest() == hashlib.sha256(data).hexdigest()


def test_s3_missing_bucket_reads_as_missing(s3_store):
    # Nothing written yet, so the bucket does not even exist.
    assert s3_store.read("p/q/1/0-0.log") is None
    assert s3_store.size("p/q/1/0-0.log") is None
    assert s3_store.delete_prefix("p/") == 0


def test_s3_existing_bucket_is_reused(s3_endpoint, s3_store, tmp_path):
    from devops.logs.stores import S3LogStore

    s3_store.put_file("p/q/1/0-0.log", _write(tmp_path / "a", b"hello"))
    again = S3LogStore(s3_endpoint, "testing", "testing", s3_store.bucket, secure=False)
    again.put_file("p/q/1/0-1.log", _write(tmp_path / "b", b"world"))
    assert again.read("p/q/1/0-0.log") == b"hello"


def test_s3_delete_prefix_many(s3_store, tmp_path):
    src = _write(tmp_path / "a", b"x")
    for i in range(30):
        s3_store.put_file(f"p/q/{i}/0-0.log", src)
    assert s3_store.delete_prefix("p/q/1") == 11  # 1, 10..19
    assert s3_store.delete_prefix("p/") == 19


def test_s3_endpoint_must_not_have_scheme():
    from devops.logs.stores import S3LogStore

    with pytest.raises(ValueError):
        S3LogStore("http://127.0.0.1:9000", "a", "b", "bucket", secure=False)
