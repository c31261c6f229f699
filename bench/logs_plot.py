"""Plot ``var/bench/logs_volume.json`` (from ``bench/logs_volume.py``): memory over time and the
follower's delay per marker line, one column per live buffer.

Runs under the throwaway matplotlib virtualenv (``cache_util.plot``): ``python logs_plot.py DATA OUT``.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MB = 1e6


def main(data_path: str, out_path: str) -> None:
    with open(data_path) as f:
        results = json.load(f)
    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 7), squeeze=False)
    for col, r in enumerate(results):
        start, end = r["step_window"]
        mem = axes[0][col]
        for name, colour in (("worker", "#4878cf"), ("worker tree", "#6acc65"), ("gunicorn", "#d65f5f")):
            series = r["series"][name]
            base = r["memory"][name]["baseline"]
            label = {"worker": "worker process (RSS)", "worker tree": "worker + step processes (PSS)",
                     "gunicorn": "gunicorn, SSE server (PSS)"}[name]  # fmt: skip
            mem.plot([t for t, _ in series], [(v - base) / MB for _, v in series], color=colour, label=label)
        mem.axhline(64, color="black", linestyle="--", linewidth=1, label="goal: worker +64 MB")
        mem.axvspan(start, end, color="#eeeeee", zorder=0, label="step running")
        mem.set_ylim(-10, 70)
        mem.set_xlabel("seconds since the trigger")
        mem.set_ylabel("MB above the baseline")
        mem.set_title(f"{r['variant']} live buffer: memory while the step writes 100 MB", fontsize=10)
        mem.legend(fontsize=7, loc="center right")
        lag = axes[1][col]
        for phase, colour in (("flood", "#d65f5f"), ("idle", "#4878cf")):
            points = [(t, d) for p, t, d in r["marks"] if (p == "idle") == (phase == "idle")]
            lag.scatter([t for t, _ in points], [d for _, d in points], s=12, color=colour,
                        label=f"{phase} ({len(points)} lines)")  # fmt: skip
        lag.axhline(1.0, color="black", linestyle="--", linewidth=1, label="goal: 1 s")
        lag.set_ylim(0, 1.1)
        lag.set_xlabel("seconds since the trigger (when the step wrote the line)")
        lag.set_ylabel("written -> read by the SSE follower (s)")
        lag.set_title("follower delay per timestamped line", fontsize=10)
        lag.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
