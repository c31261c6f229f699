"""Shared bits of the engine benchmark (``bench/engine.py``): paths, constants, formatting, subprocess, log."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FINAL = ("Success", "Failed", "Aborted")


def ms(seconds: float | None) -> str:
    return "   n/a" if seconds is None else f"{seconds * 1000:6.1f}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def log(message: str) -> None:
    print(f"# {message}", flush=True)

