"""Streaming secret masking for step output.

Step output reaches us in arbitrary chunks (pipe reads, pod log pages), so a secret can straddle two
chunks: masking each chunk on its own would leak ``hunt`` + ``er2``. ``SecretMasker`` keeps back only
the tail that could still be the start of a secret (never more than ``len(longest secret) - 1``
bytes) and emits everything else at once, so live views stay live.

Rules, and why:

* Secrets shorter than ``MIN_SECRET_LENGTH`` (3) bytes are ignored: masking every ``a`` or ``42`` in a
  log would make it unreadable while protecting nothing (such a value is guessable anyway).
* A multi-line secret (a PEM key, a kubeconfig) is also masked line by line: ``cat key.pem`` prints it
  whole, but tools that re-wrap, prefix or interleave output emit it one line at a time. Each line
  (whitespace-stripped) of length >= 3 becomes a secret of its own.
* Overlapping occurrences are merged: the masked region is the union of every occurrence of every
  secret, and each maximal region becomes one mask. At any position the longest secret wins (the
  alternation is ordered longest first), so ``abc`` inside ``abcdef`` never leaves ``def`` visible.
* One compiled ``bytes`` regex alternation does the scanning in C: linear in the input, so 100 MB of
  output costs seconds, not hours.
* The output does not depend on how the input was split: feeding a stream in any chunks and then
  calling ``flush()`` yields exactly what masking it in one piece would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_SECRET_LENGTH", "SecretMasker"]

MIN_SECRET_LENGTH = 3
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _variants(secret: str | bytes) -> set[bytes]:
    """The byte strings to mask for one secret: itself, stripped, and each line of it."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    found = {raw, raw.strip()}
    if b"\n" in raw or b"\r" in raw:
        found.update(line.strip() for line in _LINE_BREAK.split(raw))
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


class SecretMasker:
    """Replace every occurrence of any secret in a byte stream, across chunk boundaries.

    Not thread-safe: one masker per stream, fed in stream order.
    """

    def __init__(self, secrets: Iterable[str | bytes], mask: bytes = b"********") -> None:
        values: set[bytes] = set()
        for secret in secrets:
            if secret:
                values.update(_variants(secret))
        # Longest first: at a given position the regex takes the first alternative that matches.
        ordered = sorted(values, key=lambda v: (-len(v), v))
        self._mask = bytes(mask)
        self._longest = len(ordered[0]) if ordered else 0
        self._pattern = re.compile(b"|".join(re.escape(v) for v in ordered)) if ordered else None
        by_first: dict[int, list[bytes]] = {}
        for value in ordered:
            by_first.setdefault(value[0], []).append(value)
        self._by_first = {first: tuple(group) for first, group in by_first.items()}
        self._pending = b""  # bytes received but not yet emitted
        self._covered = 0  # leading bytes of _pending that lie inside a mask already emitted

    @property
    def max_holdback(self) -> int:
        """The most bytes ``feed`` can keep back: ``len(longest secret) - 1`` (0 with no secrets)."""
        return max(self._longest - 1, 0)

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk of the stream; return the masked bytes that are safe to emit now."""
        if self._pattern is None:
            return bytes(chunk)
        buf = self._pending + chunk if self._pending else bytes(chunk)
        return self._process(buf, self._undecided_from(buf))

    def flush(self) -> bytes:
        """End of stream: return everything still held back, masked. The masker can be reused."""
        if self._pattern is None:
            return b""
        buf = self._pending
        out = self._process(buf, len(buf))
        self._pending, self._covered = b"", 0
        return out

    def _undecided_from(self, buf: bytes) -> int:
        """The first position whose tail ``buf[p:]`` is a proper prefix of some secret.

        Bytes before it can be decided now; the tail may still turn into a secret with the next chunk.
        Only the last ``len(longest) - 1`` positions can qualify, so this is O(longest) per chunk.
        """
        end = len(buf)
        for pos in range(max(0, end - self._longest + 1), end):
            candidates = self._by_first.get(buf[pos])
            if candidates:
                tail = buf[pos:]
                size = end - pos
                if any(len(c) > size and c.startswith(tail) for c in candidates):
                    return pos
        return end

    def _process(self, buf: bytes, decided: int) -> bytes:
        """Mask occurrences starting before ``decided``, emit up to it, keep the rest pending.

        Every occurrence starting before ``decided`` is complete inside ``buf`` (otherwise its start
        would be undecided), so these matches are final. The scan restarts one byte after each match
        start to catch overlapping occurrences; their union is masked, one mask per merged region.
        """
        assert self._pattern is not None
        search = self._pattern.search
        out = bytearray()
        region_end = self._covered  # end of the current masked region (mask already emitted)
        pos = 0
        while True:
            match = search(buf, pos)
            if match is None or match.start() >= decided:
                break
            start, end = match.span()
            if start < region_end:
                region_end = max(region_end, end)
            else:
                out += buf[region_end:start]
                out += self._mask
                region_end = end
            pos = start + 1
        if region_end <= decided:
            out += buf[region_end:decided]
            self._covered = 0
        else:
            self._covered = region_end - decided
        self._pending = buf[decided:]
        return bytes(out)
