"""SecretMasker: every occurrence masked, however the stream is split, in linear time."""

from __future__ import annotations

import itertools
import random

import pytest

from devops.logs.masking import SecretMasker

M = b"********"


def reference_mask(data: bytes, secrets: list[bytes], mask: bytes = M) -> bytes:
    """Obviously-correct (slow) masking: union of all occurrences, overlapping ones merged."""
    spans = []
    for secret in {s for s in secrets if len(s) >= 3}:
        start = data.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = data.find(secret, start + 1)
    spans.sort()
    out, cursor, region = bytearray(), 0, None
    for start, end in spans:
        if region is not None and start < region[1]:
            region[1] = max(region[1], end)
            continue
        if region is not None:
            cursor = region[1]
        out += data[cursor:start] + mask
        region = [start, end]
    if region is not None:
        cursor = region[1]
    out += data[cursor:]
    return bytes(out)


def run(masker: SecretMasker, chunks: list[bytes]) -> bytes:
    return b"".join(masker.feed(c) for c in chunks) + masker.flush()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


SAMPLE = b"login: admin pw=hunter22 token ghp_abc123 and again hunter22hunter22, end ghp_abc123"
SAMPLE_SECRETS = [b"hunter22", b"ghp_abc123"]


def test_no_secrets_is_identity():
    masker = SecretMasker([])
    assert masker.feed(SAMPLE) == SAMPLE
    assert masker.flush() == b""
    assert masker.max_holdback == 0


def test_simple_replacement():
    out = run(SecretMasker(SAMPLE_SECRETS), [SAMPLE])
    assert out == (b"login: admin pw=******** token ******** and again ****************, end ********")
    assert out == reference_mask(SAMPLE, SAMPLE_SECRETS)


def test_every_two_way_split():
    expected = reference_mask(SAMPLE, SAMPLE_SECRETS)
    for cut in range(len(SAMPLE) + 1):
        assert run(SecretMasker(SAMPLE_SECRETS), split_at(SAMPLE, [cut])) == expected, cut


def test_every_three_way_split():
    data = b"xhunter22yghp_abc123hunter22"
    expected = reference_mask(data, SAMPLE_SECRETS)
    for a in range(len(data) + 1):
        for b in range(a, len(data) + 1):
            assert run(SecretMasker(SAMPLE_SECRETS), split_at(data, [a, b])) == expected, (a, b)


def test_byte_by_byte():
    chunks = [SAMPLE[i : i + 1] for i in range(len(SAMPLE))]
    masker = SecretMasker(SAMPLE_SECRETS)
    emitted = b""
    for chunk in chunks:
        emitted += masker.feed(chunk)
        assert b"hunter22" not in emitted and b"ghp_abc123" not in emitted
    assert emitted + masker.flush() == reference_mask(SAMPLE, SAMPLE_SECRETS)


def test_random_splits_with_overlapping_secrets_match_reference():
    """Tiny alphabet so secrets overlap, nest and repeat constantly; seeded for reproducibility."""
    rng = random.Random(20240501)
    for _ in range(400):
        secrets = [
            bytes(rng.choice(b"abc") for _ in range(rng.randint(1, 7))) for _ in range(rng.randint(1, 4))
        ]
        data = bytes(rng.choice(b"abc\n") for _ in range(rng.randint(0, 120)))
        expected = reference_mask(data, secrets)
        cuts = [rng.randint(0, len(data)) for _ in range(rng.randint(0, 12))]
        assert run(SecretMasker(secrets), split_at(data, cuts)) == expected, (secrets, data, cuts)
        one_byte = [data[i : i + 1] for i in range(len(data))]
        assert run(SecretMasker(secrets), one_byte) == expected, (secrets, data)


def test_holds_back_at_most_longest_minus_one():
    rng = random.Random(7)
    secrets = [b"abcabcab", b"cab"]
    masker = SecretMasker(secrets)
    assert masker.max_holdback == 7
    fed = emitted = 0
    for _ in range(2000):
        chunk = bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 5)))
        fed += len(chunk)
        out = masker.feed(chunk)
        emitted += len(out)
        # The masker's unemitted input never exceeds the longest secret minus one.
        assert len(masker._pending) <= 7


def test_text_that_cannot_start_a_secret_is_emitted_at_once():
    masker = SecretMasker([b"s3cr3t-value"])
    assert masker.feed(b"compiling...\n") == b"compiling...\n"
    # A tail that may be the start of the secret waits for the next chunk...
    assert masker.feed(b"value s3cr") == b"value "
    # ...and is released as soon as it turns out not to be.
    assert masker.feed(b"ew loose\n") == b"s3crew loose\n"
    assert masker.feed(b"s3cr") == b""
    assert masker.feed(b"3t-value!") == M + b"!"
    assert masker.flush() == b""


def test_flush_releases_a_partial_prefix():
    masker = SecretMasker([b"password1"])
    assert masker.feed(b"the passw") == b"the "
    assert masker.flush() == b"passw"
    # Reusable after flush.
    assert run(masker, [b"password1"]) == M


def test_longest_secret_wins_when_nested():
    masker = SecretMasker([b"pass", b"password", b"password123"])
    assert run(masker, [b"x password1234 pass passwordX"]) == b"x " + M + b"4 " + M + b" " + M + b"X"


def test_overlapping_occurrences_are_merged_into_one_mask():
    secrets = [b"abcdef", b"defghi"]
    assert run(SecretMasker(secrets), [b"__abcdefghi__"]) == b"__" + M + b"__"
    for cut in range(14):
        assert run(SecretMasker(secrets), split_at(b"__abcdefghi__", [cut])) == b"__" + M + b"__"
    # Adjacent (touching, not overlapping) occurrences stay two masks.
    assert run(SecretMasker([b"abc"]), [b"abcabc"]) == M + M


def test_short_secrets_ignored_three_bytes_masked():
    masker = SecretMasker(["", "a", "42", "xyz"])
    assert run(masker, [b"a 42 xyz a42"]) == b"a 42 " + M + b" a42"
    assert SecretMasker(["ab"]).max_holdback == 0


def test_str_secrets_are_utf8():
    masker = SecretMasker(["pässwörd"])
    assert run(masker, ["my pässwörd!".encode()]) == b"my " + M + b"!"


def test_custom_mask():
    assert run(SecretMasker([b"secret"], mask=b"[MASKED]"), [b"a secret b"]) == b"a [MASKED] b"


def test_no_false_positives():
    masker = SecretMasker([b"hunter22", b"tokenXYZ"])
    text = b"hunter2 hunter2 2 hunter hunter 22 unter22 tokenXY okenXYZ token XYZ tokenxyz HUNTER22\n" * 50
    assert run(masker, [text[i : i + 13] for i in range(0, len(text), 13)]) == text


PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDcJ9ZCk1jAxQIDAQABAoIBAQC7vQo3Zb5dFh2R1v9w0m9Y3xq8b8Yw1Q2\n"
    "AAAAEGFiY0BleGFtcGxlLmNvbQECAwQFBgc=\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_multiline_secret_masked_whole():
    out = run(SecretMasker([PEM]), [b"$ cat id_ed25519\n" + PEM.encode() + b"$ done\n"])
    assert out == b"$ cat id_ed25519\n" + M + b"$ done\n"


def test_multiline_secret_masked_line_by_line():
    lines = PEM.strip().split("\n")
    # Printed one line at a time, interleaved, with prefixes and CRLF endings.
    printed = b"".join(f"+ echo {line}\r\n[stderr] noise\r\n".encode() for line in lines)
    out = run(SecretMasker([PEM]), [printed[i : i + 7] for i in range(0, len(printed), 7)])
    for line in lines:
        assert line.encode() not in out
    assert out.count(M) == len(lines)
    assert out.count(b"[stderr] noise\r\n") == len(lines)


def test_multiline_secret_with_crlf_and_indentation():
    secret = "line-one-value\r\n    line-two-value\r\n"
    out = run(SecretMasker([secret]), [b"A line-two-value B line-one-value C"])
    assert out == b"A " + M + b" B " + M + b" C"


def test_large_input_streams_through():
    """20 MB in 64 KiB chunks: bounded memory (one chunk + held tail) and linear time."""
    secrets = [b"sk_live_0123456789abcdef", b"hunter22", PEM.encode()]
    masker = SecretMasker(secrets)
    line = b"Step 3/12 : RUN pip install -r requirements.txt --no-cache-dir # downloading wheels\n"
    block = (line * 800)[: 64 * 1024 - 30] + b"sk_live_0123456789ab" + b"cdef hunter"
    total_out = 0
    carry = b""
    for i in range(320):  # 320 * 64 KiB = 20 MiB
        out = masker.feed(block if i % 2 == 0 else b"22 " + block[3:])
        # Check across output boundaries too.
        window = carry + out
        assert b"sk_live_0123456789abcdef" not in window and b"hunter22" not in window
        carry = out[-64:]
        total_out += len(out)
        assert len(masker._pending) <= masker.max_holdback
    total_out += len(masker.flush())
    assert total_out > 20 * 1000 * 1000


@pytest.mark.parametrize("secret", [b"aaa", b"aaaa"])
def test_pathological_repetition(secret):
    data = b"a" * 100_000 + b"b"
    expected = M + b"b"
    masker = SecretMasker([secret])
    assert run(masker, [data[i : i + 4096] for i in range(0, len(data), 4096)]) == expected
