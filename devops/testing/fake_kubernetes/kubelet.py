"""Plain-Python hooks for a simulated scheduler and kubelet: nodes, binding, container states, pod phase.

They write through ``Store.update`` (any field, no API guards), so every change is a MODIFIED watch event
and shows in the next list, exactly as if a real kubelet had reported it. A simulation drives them, e.g.::

    store.subscribe(lambda e: e.type == "ADDED" and e.rt.kind == "Pod" and queue.put(e.obj))
    bind(store, ns, pod, "node-3")
    set_container_state(store, ns, pod, "step-1", "running")
    store.append_log(ns, pod, "step-1", "hello\\n")
    set_container_state(store, ns, pod, "step-1", "terminated", exit_code=0)
"""

from __future__ import annotations

from .objects import now
from .store import Store


def add_node(store: Store, name: str, labels: dict | None = None, cpu: str = "4", memory: str = "8Gi",
             taints: list[dict] | None = None) -> dict:
    capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
    node = {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints} if taints else {},
        "status": {"capacity": capacity, "allocatable": dict(capacity),
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }
    return store.create("nodes", node)


def unscheduled_pods(store: Store, namespace: str | None = None) -> list[dict]:
    return store.list("pods", namespace, field_selector="spec.nodeName=")


def bind(store: Store, namespace: str, pod: str, node: str) -> dict:
    def apply(obj: dict) -> None:
        obj["spec"]["nodeName"] = node
        status = obj.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"].append({"type": "PodScheduled", "status": "True", "lastTransitionTime": now()})
        status["hostIP"] = "10.0.0.1"

    return store.update("pods", pod, apply, namespace)


def _state(state: str, exit_code: int | None, reason: str | None, message: str | None) -> dict:
    if state == "waiting":
        return {"waiting": {"reason": reason or "ContainerCreating", **({"message": message} if message else {})}}
    if state == "running":
        return {"running": {"startedAt": now()}}
    if state == "terminated":
        code = 0 if exit_code is None else exit_code
        body = {"exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"),
                "startedAt": now(), "finishedAt": now()}
        if message:
            body["message"] = message
        return {"terminated": body}
    raise ValueError(f"unknown container state {state!r}")


def _phase(pod: dict) -> str:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    init_names = [c["name"] for c in spec.get("initContainers") or []]
    names = [c["name"] for c in spec.get("containers") or []]
    states = {s["name"]: s.get("state") or {} for s in
              (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])}
    if any("terminated" in states.get(n, {}) and states[n]["terminated"]["exitCode"] != 0 for n in init_names):
        return "Failed"
    if not all("terminated" in states.get(n, {}) for n in init_names):
        return "Pending"
    if all("terminated" in states.get(n, {}) for n in names):
        failed = any(states[n]["terminated"]["exitCode"] != 0 for n in names)
        return "Failed" if failed else "Succeeded"
    if any("running" in states.get(n, {}) or "terminated" in states.get(n, {}) for n in names):
        return "Running"
    return "Pending"


def set_container_state(store: Store, namespace: str, pod: str, container: str, state: str,
                        exit_code: int | None = None, reason: str | None = None, message: str | None = None,
                        image: str | None = None) -> dict:
    """``state``: "waiting" (reason e.g. ImagePullBackOff), "running" or "terminated" (exit_code, reason, message).

    The pod's phase follows (Pending / Running / Succeeded / Failed, as for ``restartPolicy: Never``).
    """

    def apply(obj: dict) -> None:
        spec, status = obj["spec"], obj.setdefault("status", {})
        init = container in [c["name"] for c in spec.get("initContainers") or []]
        field = "initContainerStatuses" if init else "containerStatuses"
        spec_image = next((c.get("image") for c in (spec.get("initContainers") or []) + spec["containers"]
                           if c["name"] == container), "")
        entries = [s for s in status.get(field) or [] if s["name"] != container]
        previous = next((s for s in status.get(field) or [] if s["name"] == container), {})
        entries.append({
            "name": container, "image": image or spec_image, "imageID": previous.get("imageID", ""),
            "ready": state == "running", "restartCount": previous.get("restartCount", 0), "started": state == "running",
            "state": _state(state, exit_code, reason, message),
        })
        order = [c["name"] for c in (spec.get("initContainers") if init else spec["containers"]) or []]
        status[field] = sorted(entries, key=lambda s: order.index(s["name"]) if s["name"] in order else len(order))
        status["phase"] = _phase(obj)
        status.setdefault("startTime", now())

    return store.update("pods", pod, apply, namespace)


def set_pod_phase(store: Store, namespace: str, pod: str, phase: str, reason: str | None = None,
                  message: str | None = None) -> dict:
    """Set the phase directly, e.g. ``Failed`` with reason ``Evicted`` or ``DeadlineExceeded``."""

    def apply(obj: dict) -> None:
        status = obj.setdefault("status", {})
        status["phase"] = phase
        for key, value in (("reason", reason), ("message", message)):
            if value is not None:
                status[key] = value

    return store.update("pods", pod, apply, namespace)
