"""Plots for ``bench/compare_buildbot.py``, run with the Buildbot venv's python (matplotlib lives there).

Usage: ``buildbot_plot.py SAMPLES.json OUT_DIR``. Writes ``latency_ours_vs_buildbot.png`` (the latency
distributions, log scale, every sample drawn) and ``throughput_ours_vs_buildbot.png`` (completions over
time for the pipelines triggered at once). Imports nothing from the project.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter  # noqa: E402

COLOURS = {"ours": "#2a7ab9", "buildbot": "#d9822b"}


def latency(data: dict, out: Path) -> None:
    names = ["ours", "buildbot"]
    values = [data["latency"][n] for n in names]
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    ax.boxplot(values, vert=False, widths=0.5, showfliers=False, medianprops={"color": "black"})
    rng = random.Random(7)
    for i, (name, v) in enumerate(zip(names, values, strict=True), start=1):
        ax.scatter(v, [i + rng.uniform(-0.15, 0.15) for _ in v], s=14, alpha=0.75, color=COLOURS[name], zorder=3)
        med = statistics.median(v)
        ax.annotate(f"median {med:.3f} s", (med, i + 0.32), ha="center", fontsize=9)
    ax.set_xscale("log")
    lo, hi = min(min(v) for v in values), max(max(v) for v in values)
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if lo / 1.5 <= t <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([1, 2], ["ours\n(3 stages × 2 parallel\n+ Clone)", f"Buildbot {data['buildbot_version']}\n"
                           f"({data['buildbot_db']}; Git + 6 steps)"])  # fmt: skip
    ax.set_xlabel("trigger → completion seen (s, log scale)")
    ratio = statistics.median(values[1]) / statistics.median(values[0])
    ax.set_title(f"Latency, one pipeline at a time, {len(values[0])} samples each "
                 f"(Buildbot/ours = {ratio:.1f}×)", fontsize=11)  # fmt: skip
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


def throughput(data: dict, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    for name, label in (("ours", "ours"), ("buildbot", f"Buildbot {data['buildbot_version']}")):
        r = data["throughput"][name]
        times = [0.0, *r["completions"]]
        ax.step(times, range(len(times)), where="post", color=COLOURS[name],
                label=f"{label}: {r['n']} in {r['total']:.1f} s ({r['rate']:.2f}/s)")  # fmt: skip
    ax.set_xlabel("seconds since the first trigger")
    ax.set_ylabel("pipelines complete")
    ax.set_title(f"{data['throughput']['ours']['n']} pipelines at once, {data['slots']} concurrent slots on both",
                 fontsize=11)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    latency(data, out / "latency_ours_vs_buildbot.png")
    throughput(data, out / "throughput_ours_vs_buildbot.png")


if __name__ == "__main__":
    main()
