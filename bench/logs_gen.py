"""The step of ``bench/logs_volume.py``, copied into its sample repository and run there as
``python3 gen.py``: it writes ``LOG_BYTES`` of base64 lines (random data) to stdout as fast as the pipe
takes them (or at ``LOG_RATE`` bytes/s), and a timestamped marker line about every ``MARK_EVERY``
seconds: ``MARK <phase> <seq> <unix time>``. After the flood and a pause of ``IDLE_AFTER`` seconds (the
follower catches up), ``IDLE_MARKS`` more markers, one every ``MARK_EVERY`` seconds, with nothing in
between. Every byte written to stdout is also written to
``TEE_PATH`` (outside the workspace), so the benchmark can compare the stored log with exactly what the
step wrote. Base64 has no space, so a marker can never be confused with the filler.
"""

import base64
import os
import time


def main() -> None:
    total = int(os.environ["LOG_BYTES"])
    every = float(os.environ.get("MARK_EVERY", "0.1"))
    idle = int(os.environ.get("IDLE_MARKS", "50"))
    idle_after = float(os.environ.get("IDLE_AFTER", "2"))
    rate = float(os.environ.get("LOG_RATE", "0"))
    seq = 0
    with open(os.environ["TEE_PATH"], "wb") as tee:

        def emit(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
            tee.write(data)

        def mark(phase: bytes) -> None:
            nonlocal seq
            seq += 1
            emit(b"MARK %s %d %.6f\n" % (phase, seq, time.time()))

        mark(b"start")
        start = next_mark = time.monotonic()
        written = 0
        while written < total:
            block = base64.encodebytes(os.urandom(57 * 1024))  # 1,024 lines of 76 characters
            emit(block)
            written += len(block)
            now = time.monotonic()
            if now >= next_mark:
                mark(b"flood")
                next_mark = now + every
            if rate and start + written / rate > now:
                time.sleep(start + written / rate - now)
        mark(b"flooded")
        time.sleep(idle_after)
        for _ in range(idle):
            time.sleep(every)
            mark(b"idle")


if __name__ == "__main__":
    main()
