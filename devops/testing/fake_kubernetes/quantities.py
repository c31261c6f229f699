"""Kubernetes resource quantities ("500m", "2", "1Gi", "512M") as floats, and a pod's effective requests."""

from __future__ import annotations

import functools

_SUFFIXES = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def parse_quantity(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    return _parse(str(value).strip())


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> float:
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return float(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return float(text)


def _container_requests(container: dict) -> dict[str, float]:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or resources.get("limits") or {}  # limits default the requests
    return {k: parse_quantity(v) for k, v in requests.items()}


def pod_requests(pod: dict) -> dict[str, float]:
    """What the scheduler reserves: max(sum of containers, largest init container), per resource."""
    spec = pod.get("spec") or {}
    total: dict[str, float] = {}
    for container in spec.get("containers") or []:
        for key, amount in _container_requests(container).items():
            total[key] = total.get(key, 0.0) + amount
    for container in spec.get("initContainers") or []:
        for key, amount in _container_requests(container).items():
            total[key] = max(total.get(key, 0.0), amount)
    return total
