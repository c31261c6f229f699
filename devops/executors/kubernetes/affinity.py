"""Preferred node affinity for the nodes recent executions of the pipeline ran on (warm caches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HOSTNAME_LABEL = "kubernetes.io/hostname"
MAX_TERMS = 10  # weights 100, 90, ..., 10


def preferred_nodes(recent_nodes: Sequence[str], count: int) -> list[str]:
    """The newest ``count`` distinct nodes (``recent_nodes`` is newest first), at most ten."""
    out: list[str] = []
    for node in recent_nodes:
        if node and node not in out:
            out.append(node)
    return out[: max(0, min(count, MAX_TERMS))]


def node_affinity(recent_nodes: Sequence[str], count: int) -> dict[str, Any] | None:
    """One preferred term per node, weight 100 for the newest, then 90, 80, ...; None without nodes."""
    nodes = preferred_nodes(recent_nodes, count)
    if not nodes:
        return None
    terms = [
        {
            "weight": 100 - 10 * index,
            "preference": {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]},
        }
        for index, node in enumerate(nodes)
    ]
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}
