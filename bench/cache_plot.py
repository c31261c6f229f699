"""Plot ``var/bench/cache.json`` (from ``bench/cache.py``): cold vs warm per sample kind.

Runs under the throwaway matplotlib virtualenv (``cache_util.plot``): ``python cache_plot.py DATA OUT``.
"""

from __future__ import annotations

import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(data_path: str, out_path: str) -> None:
    with open(data_path) as f:
        results = json.load(f)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (suffix, title) in zip(axes, (("total", "whole execution"), ("stage", "cached stage")), strict=True):
        labels, positions = [], []
        for k, result in enumerate(results):
            for j, (temp, colour) in enumerate((("cold", "#4878cf"), ("warm", "#e8a33d"))):
                values = [s[f"{temp}_{suffix}"] for s in result["samples"]]
                x = k * 3 + j
                median = statistics.median(values)
                ax.bar(x, median, color=colour, width=0.8, label=temp if k == 0 else None)
                ax.scatter([x] * len(values), values, color="black", s=10, zorder=3)
                ax.annotate(
                    f"{median:.1f}s",
                    (x, median),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
            cold = statistics.median(s[f"cold_{suffix}"] for s in result["samples"])
            warm = statistics.median(s[f"warm_{suffix}"] for s in result["samples"])
            stage = f" ({result['stage']})" if suffix == "stage" else ""
            labels.append(f"{result['kind']}{stage}\n{cold / warm:.1f}x faster warm")
            positions.append(k * 3 + 0.5)
        ax.set_xticks(positions, labels)
        ax.set_ylabel("seconds (bars: median; dots: samples)")
        ax.set_title(title)
        ax.legend()
    fig.suptitle("Cache: cold (cache cleared) vs warm, local executor")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
