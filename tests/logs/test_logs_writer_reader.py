"""StepLogWriter + read_log: live reads while writing, the hand-over to the store, masking end to end."""

from __future__ import annotations

import random
import threading

import pytest

from devops.logs import LogChunk, StepLogWriter, read_log
from devops.logs.live import FilesystemLiveLog, LiveLog
from devops.logs.masking import SecretMasker
from devops.logs.stores import FilesystemLogStore, LogStore

KEY = "proj/pipe/3/1-0.log"
SECRETS = ["hunter22-very-secret", "ghp_0123456789abcdefXYZ"]
MASK = b"********"


@pytest.fixture(params=["filesystem", "redis"])
def live(request, tmp_path) -> LiveLog:
    if request.param == "filesystem":
        return FilesystemLiveLog(tmp_path / "live")
    return request.getfixturevalue("redis_live")


@pytest.fixture(params=["filesystem", "s3"])
def store(request, tmp_path) -> LogStore:
    if request.param == "filesystem":
        return FilesystemLogStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def make_output(seed: int, lines: int) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        word = rng.choice([b"compiling", b"linking", SECRETS[0].encode(), SECRETS[1].encode(), b"ok"])
        out.append(b"%06d %s %s\n" % (i, word, rng.choice([b"", b"x" * rng.randint(1, 200)])))
    return b"".join(out)


def split_randomly(data: bytes, seed: int, max_piece: int = 97) -> list[bytes]:
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(data):
        n = rng.randint(1, max_piece)
        pieces.append(data[i : i + n])
        i += n
    return pieces


def expected_masked(data: bytes) -> bytes:
    masker = SecretMasker(SECRETS)
    return masker.feed(data) + masker.flush()


def assert_no_secret(data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data


def test_concurrent_reader_sees_exact_bytes_in_order(live, store):
    raw = make_output(1, 4000)
    expected = expected_masked(raw)
    writer = StepLogWriter(KEY, SECRETS, live, store)
    received = bytearray()
    offsets = []
    done = threading.Event()
    errors: list[Exception] = []

    def reader() -> None:
        offset = 0
        rng = random.Random(2)
        try:
            while True:
                chunk = read_log(KEY, offset, rng.choice([1, 7, 4096, None]), live=live, store=store)
                assert chunk.next_offset == offset + len(chunk.data)
                assert_no_secret(chunk.data)
                received.extend(chunk.data)
                offsets.append(offset)
                offset = chunk.next_offset
                if chunk.complete:
                    return
                if not chunk.data and done.is_set() and len(offsets) > 100_000:
                    raise AssertionError("reader never saw the log complete")
        except Exception as exc:  # noqa: BLE001 - any failure must reach the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for piece in split_randomly(raw, 3):
        writer.write(piece)
    total = writer.close()
    done.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert not errors, errors
    assert bytes(received) == expected
    assert total == len(expected)
    assert len(set(offsets)) > 1  # it really read in several steps


def test_close_stores_identical_copy_and_discards_live(live, store):
    raw = make_output(4, 600)
    writer = StepLogWriter(KEY, SECRETS, live, store, chunk_bytes=1000)
    live_snapshots = []
    for piece in split_randomly(raw, 5, max_piece=13):  # secrets are split across many writes
        writer.write(piece)
        live_snapshots.append(live.size(KEY))
    live_copy = live.read(KEY)
    assert live_copy is not None
    assert_no_secret(live_copy)
    assert store.read(KEY) is None
    partial = read_log(KEY, 0, None, live=live, store=store)
    assert partial == LogChunk(live_copy, len(live_copy), False)

    total = writer.close()
    final = store.read(KEY)
    assert final == expected_masked(raw)
    assert final.startswith(live_copy)  # offsets carry over from the live view to the stored one
    assert total == len(final) == store.size(KEY)
    assert_no_secret(final)
    assert MASK in final
    assert live.read(KEY) is None
    assert read_log(KEY, 0, None, live=live, store=store) == LogChunk(final, len(final), True)

    # Idempotent close; writing afterwards is an error.
    assert writer.close() == total
    with pytest.raises(ValueError):
        writer.write(b"late")


def test_secret_split_across_writes_never_reaches_live(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, ["topsecret-value"], live, store)
    secret = b"topsecret-value"
    for i in range(len(secret) + 1):
        writer.write(b"before " + secret[:i])
        assert b"topsecret" not in (live.read(KEY) or b"")
        writer.write(secret[i:] + b" after\n")
        assert secret not in (live.read(KEY) or b"")
    writer.close()
    final = store.read(KEY)
    assert final == b"before ******** after\n" * (len(secret) + 1)


def test_read_log_paging_of_a_finished_log(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    with StepLogWriter(KEY, [], live, store) as writer:
        writer.write(b"0123456789")
    assert read_log(KEY, 0, 4, live=live, store=store) == LogChunk(b"0123", 4, False)
    assert read_log(KEY, 4, 4, live=live, store=store) == LogChunk(b"4567", 8, False)
    # A full page that ends exactly at the end is complete; so is a short one.
    assert read_log(KEY, 6, 4, live=live, store=store) == LogChunk(b"6789", 10, True)
    assert read_log(KEY, 8, 4, live=live, store=store) == LogChunk(b"89", 10, True)
    assert read_log(KEY, 10, 4, live=live, store=store) == LogChunk(b"", 10, True)
    assert read_log(KEY, 0, None, live=live, store=store) == LogChunk(b"0123456789", 10, True)
    with pytest.raises(ValueError):
        read_log(KEY, -1, live=live, store=store)


def test_read_log_unknown_key_is_empty_and_incomplete(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    assert read_log(KEY, 0, live=live, store=store) == LogChunk(b"", 0, False)
    assert read_log(KEY, 5, live=live, store=store) == LogChunk(b"", 5, False)


def test_empty_step_is_stored_empty_and_complete(live, tmp_path):
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, SECRETS, live, store)
    assert writer.close() == 0
    assert store.read(KEY) == b""
    assert read_log(KEY, 0, live=live, store=store) == LogChunk(b"", 0, True)


def test_close_flushes_held_back_tail(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, ["password1"], live, store)
    writer.write(b"it ends with passw")
    assert live.read(KEY) == b"it ends with "
    writer.close()
    assert store.read(KEY) == b"it ends with passw"


def test_write_line_starts_a_fresh_line_and_is_masked(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, ["s3cr3t"], live, store)
    writer.write_line("[devops] cache restored")
    writer.write(b"partial line")
    writer.write_line("[devops] token s3cr3t used")
    writer.write(b"done\n")
    writer.write_line("[devops] step finished")
    writer.close()
    assert store.read(KEY) == (
        b"[devops] cache restored\npartial line\n[devops] token ******** used\ndone\n[devops] step finished\n"
    )


def test_failed_store_keeps_live_copy_and_close_can_be_retried(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    real = FilesystemLogStore(tmp_path / "store")

    class Flaky(FilesystemLogStore):
        failures = 1

        def put_file(self, key, path):
            if self.failures:
                self.failures -= 1
                raise OSError("store down")
            super().put_file(key, path)

    store = Flaky(tmp_path / "store")
    writer = StepLogWriter(KEY, ["hunter22"], live, store)
    writer.write(b"abc hunter")
    writer.write(b"22 def")
    with pytest.raises(OSError):
        writer.close()
    assert live.read(KEY) == b"abc ******** def"
    assert real.read(KEY) is None
    assert writer.close() == len(b"abc ******** def")
    assert real.read(KEY) == b"abc ******** def"
    assert live.read(KEY) is None


def test_large_writes_are_appended_in_chunks(tmp_path):
    appended = []

    class Recording(FilesystemLiveLog):
        def append(self, key, data):
            appended.append(len(data))
            super().append(key, data)

    live = Recording(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, [], live, store, chunk_bytes=1024)
    writer.write(b"x" * 5000)
    assert appended == [1024, 1024, 1024, 1024, 904]
    assert writer.close() == 5000


def test_threads_sharing_a_writer(tmp_path):
    live = FilesystemLiveLog(tmp_path / "live")
    store = FilesystemLogStore(tmp_path / "store")
    writer = StepLogWriter(KEY, [], live, store)

    def pump(tag: bytes) -> None:
        for i in range(500):
            writer.write(b"%s %04d\n" % (tag, i))

    threads = [threading.Thread(target=pump, args=(t,)) for t in (b"out", b"err")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = store.read(KEY).splitlines()
    assert len(lines) == 1000
    assert [x for x in lines if x.startswith(b"out")] == [b"out %04d" % i for i in range(500)]
