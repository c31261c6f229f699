"""LiveLog implementations: the filesystem buffer and Redis (real server at 127.0.0.1:6379)."""

from __future__ import annotations

import pytest

from devops.logs.live import FilesystemLiveLog, LiveLog


@pytest.fixture(params=["filesystem", "redis"])
def live(request, tmp_path) -> LiveLog:
    if request.param == "filesystem":
        return FilesystemLiveLog(tmp_path / "live")
    return request.getfixturevalue("redis_live")


KEY = "proj/pipe/1/0-0.log"


def test_append_read_size(live):
    assert live.read(KEY) is None
    assert live.read(KEY, 0, 0) is None
    assert live.size(KEY) is None
    live.append(KEY, b"")
    assert live.size(KEY) == 0
    assert live.read(KEY) == b""
    live.append(KEY, b"hello ")
    live.append(KEY, b"world\n")
    live.append(KEY, bytes(range(256)))
    expected = b"hello world\n" + bytes(range(256))
    assert live.size(KEY) == len(expected)
    assert live.read(KEY) == expected
    assert live.read(KEY, 6) == expected[6:]
    assert live.read(KEY, 6, 5) == b"world"
    assert live.read(KEY, 6, 0) == b""
    assert live.read(KEY, len(expected)) == b""
    assert live.read(KEY, len(expected) + 10, 4) == b""
    with pytest.raises(ValueError):
        live.read(KEY, -1)
    # Other keys are independent.
    assert live.read("proj/pipe/1/0-1.log") is None


def test_spooled_hands_over_the_whole_log(live):
    with live.spooled(KEY) as path:
        assert path is None
    data = b"".join(f"line {i}\n".encode() for i in range(50_000))  # ~540 KB
    for i in range(0, len(data), 8191):
        live.append(KEY, data[i : i + 8191])
    with live.spooled(KEY) as path:
        assert path is not None and path.read_bytes() == data


def test_discard(live):
    live.append(KEY, b"x")
    live.discard(KEY)
    assert live.read(KEY) is None
    assert live.size(KEY) is None
    live.discard(KEY)  # no error when missing


def test_keys_are_validated(live):
    for bad in ("../x.log", "/abs", "a\\b"):
        with pytest.raises(ValueError):
            live.append(bad, b"x")
        with pytest.raises(ValueError):
            live.read(bad)


def test_redis_spool_in_ranges_and_temp_file_removed(redis_live, tmp_path):
    redis_live.spool_chunk = 1000  # force many GETRANGE round trips, including an exact multiple
    data = bytes(range(256)) * 2000  # 512_000 bytes = 512 * 1000
    redis_live.append(KEY, data)
    with redis_live.spooled(KEY) as path:
        assert path.parent == tmp_path / "spool"
        assert path.read_bytes() == data
    assert not path.exists()


def test_redis_ttl_is_set_and_refreshed(redis_live, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    redis_live.append(KEY, b"a")
    rkey = redis_live.key_prefix + KEY
    client.expire(rkey, 10)
    redis_live.append(KEY, b"b")
    assert 290 < client.ttl(rkey) <= 300


def test_filesystem_discard_leaves_shared_directories_to_concurrent_writers(tmp_path):
    """Executions of one pipeline share ``<project>/<pipeline>/``: one step's discard must never pull
    a directory from under another execution's append."""
    import threading

    live = FilesystemLiveLog(tmp_path / "live")
    errors: list[BaseException] = []

    def execution(run: int) -> None:
        try:
            for i in range(1500):
                live.append(f"p/1/{run}/0-{i}.log", b"x")
                live.discard(f"p/1/{run}/0-{i}.log")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=execution, args=(run,)) for run in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert live.size("p/1/1/0-5.log") is None
