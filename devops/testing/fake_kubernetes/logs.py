"""The pod log subresource: per-container text that a simulated kubelet appends, read like the kubelet serves it."""

from __future__ import annotations

import time
from collections.abc import Iterator

from .errors import bad_request
from .store import Store

FINAL_PHASES = ("Succeeded", "Failed")


def _container_names(pod: dict) -> list[str]:
    spec = pod.get("spec") or {}
    return [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]


def pick_container(pod: dict, container: str | None) -> str:
    names = _container_names(pod)
    regular = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if not container:
        if len(regular) == 1:
            return regular[0]
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(regular)}]")
    if container not in names:
        raise bad_request(f"container {container} is not valid for pod {name}")
    return container


def tail(text: str, lines: int | None) -> str:
    if lines is None:
        return text
    if lines <= 0:
        return ""
    parts = text.splitlines(keepends=True)
    return "".join(parts[-lines:])


def _terminated(pod: dict, container: str) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in FINAL_PHASES:
        return True
    for entry in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if entry.get("name") == container and "terminated" in (entry.get("state") or {}):
            return True
    return False


def read(store: Store, namespace: str, pod_name: str, container: str | None,
         tail_lines: int | None = None, limit_bytes: int | None = None) -> tuple[str, str]:
    """(container, text) for a finished read; 400 while the container has not started."""
    pod = store.get("pods", pod_name, namespace)
    container = pick_container(pod, container)
    text = store.log_text(namespace, pod_name, container)
    if text is None:
        if (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            raise bad_request(f'container "{container}" in pod "{pod_name}" is waiting to start: ContainerCreating')
        text = ""
    text = tail(text, tail_lines)
    if limit_bytes is not None:
        text = text.encode()[:limit_bytes].decode(errors="ignore")
    return container, text


def follow(store: Store, namespace: str, pod_name: str, container: str, start: str,
           max_seconds: float) -> Iterator[str]:
    """``follow=true``: what the read returned, then appended text until the container ends or the pod goes."""
    yield start
    sent = len(store.log_text(namespace, pod_name, container) or "")
    deadline = time.monotonic() + max_seconds
    while True:
        with store.cond:
            text = store.log_text(namespace, pod_name, container) or ""
            try:
                pod = store.get("pods", pod_name, namespace)
            except Exception:  # noqa: BLE001 - the pod is gone: the stream ends
                pod = None
            done = pod is None or _terminated(pod, container) or store.closed or time.monotonic() >= deadline
            if len(text) == sent and not done:
                store.cond.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
        if len(text) > sent:
            yield text[sent:]
            sent = len(text)
        if done:
            return
