"""Requests and limits: Kubernetes adds up the requests of a pod's containers, and our steps never all
run at once, so the execution's request (the largest any step asks for) goes on ONE container and the
others request a token amount. Limits stay per step.
"""

from __future__ import annotations

import re
from decimal import Decimal

from devops.pipeline_config import Step

# The smallest requests the API accepts as meaningful: 1 millicore, 1 MiB.
MINIMAL_CPU = "1m"
MINIMAL_MEMORY = "1Mi"
_SUFFIX = {
    "": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(value: str) -> Decimal:
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2) or ""])


def _largest(values: list[str]) -> str:
    return max(values, key=parse_quantity)


def execution_request(steps: list[Step], settings: dict[str, str]) -> dict[str, str]:
    """The largest cpu and memory request among the steps (a step without one uses the project default)."""
    cpu = [s.cpu_request or settings["executor-cpu-request"] for s in steps] or [settings["executor-cpu-request"]]
    mem = [s.memory_request or settings["executor-memory-request"] for s in steps] or [
        settings["executor-memory-request"]
    ]
    return {"cpu": _largest(cpu), "memory": _largest(mem)}


def step_limits(step: Step, settings: dict[str, str]) -> dict[str, str]:
    return {
        "cpu": step.cpu_limit or settings["executor-cpu-limit"],
        "memory": step.memory_limit or settings["executor-memory-limit"],
    }


def container_resources(steps: list[Step], settings: dict[str, str]) -> list[dict[str, dict[str, str]]]:
    """``resources`` for each step container, in order; the first carries the execution's request.

    A request above the carrier's own limit would be rejected by the API, so the carrier's limit is
    raised to the request in that case (it is the step that may use the whole reservation anyway).
    """
    request = execution_request(steps, settings)
    out: list[dict[str, dict[str, str]]] = []
    for index, step in enumerate(steps):
        limits = step_limits(step, settings)
        if index == 0:
            for key in ("cpu", "memory"):
                if parse_quantity(limits[key]) < parse_quantity(request[key]):
                    limits[key] = request[key]
            out.append({"requests": dict(request), "limits": limits})
        else:
            out.append({"requests": {"cpu": MINIMAL_CPU, "memory": MINIMAL_MEMORY}, "limits": limits})
    return out
