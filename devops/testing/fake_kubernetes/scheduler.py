"""A simulated kube-scheduler: filters and scores nodes like the default profile, then binds through the store.

Filters: node Ready and schedulable, nodeSelector, required node affinity (In, NotIn, Exists, DoesNotExist,
Gt, Lt), NoSchedule/NoExecute taints vs tolerations, resource fit (cpu, memory, pods). Scores, with the
default plugin weights: NodeAffinity preferred terms x2 (normalised to 0-100), TaintToleration for
PreferNoSchedule x3, NodeResourcesFit LeastAllocated x1; ties are broken at random. ``background_load``
(node -> fraction of cpu and memory used by something else) is the load noise a benchmark varies.
"""

from __future__ import annotations

import queue
import random
import threading

from . import kubelet
from .objects import now
from .quantities import parse_quantity, pod_requests
from .store import Event, Store

FINAL_PHASES = ("Succeeded", "Failed")
WEIGHTS = {"affinity": 2, "taints": 3, "resources": 1}


def _expression_matches(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: dict, node: dict) -> bool:
    """A nodeSelectorTerm: all matchExpressions (labels) and matchFields (metadata.name) hold."""
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    return all(_expression_matches(e, labels) for e in term.get("matchExpressions") or []) and all(
        _expression_matches(e, fields) for e in term.get("matchFields") or []
    )


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol["key"] == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


class Scheduler:
    def __init__(self, store: Store, background_load: dict[str, float] | None = None, seed: int | None = None):
        self.store = store
        self.background_load: dict[str, float] = dict(background_load or {})
        self.random = random.Random(seed)
        self.decisions: list[tuple[str, str, str]] = []  # (namespace, pod, node) in binding order
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._unsubscribe = None
        self._lock = threading.Lock()  # one scheduling decision at a time, as the real scheduler
        self._snapshot: dict[str, dict[str, float]] | None = None
        self._requests: dict[str, dict[str, float]] = {}  # pod uid -> requests

    # --- running in the background -------------------------------------------------------------------
    def start(self) -> Scheduler:
        """Schedule every unscheduled pod that appears, on a background thread (and those already there)."""
        self._unsubscribe = self.store.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="fake-scheduler", daemon=True)
        self._thread.start()
        for pod in kubelet.unscheduled_pods(self.store):
            self._queue.put((pod["metadata"]["namespace"], pod["metadata"]["name"]))
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _on_event(self, event: Event) -> None:
        pod = event.obj
        if event.type == "ADDED" and event.rt.kind == "Pod" and not event.rt.group and not pod["spec"].get("nodeName"):
            self._queue.put((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self.schedule(*item)
            except Exception:  # noqa: BLE001 - the pod went away meanwhile: nothing to schedule
                pass

    # --- one decision ---------------------------------------------------------------------------------
    def schedule(self, namespace: str, name: str) -> str | None:
        """Bind the pod to the best node and return its name; None (and an Unschedulable condition) if none fits."""
        with self._lock:
            pod = self.store.get("pods", name, namespace)
            if pod["spec"].get("nodeName"):
                return pod["spec"]["nodeName"]
            self._snapshot = self._usage()  # one pass over the pods per decision, not one per node
            try:
                nodes = [n for n in self.store.snapshot("nodes") if self.feasible(pod, n)]
                if not nodes:
                    self._unschedulable(namespace, name)
                    return None
                scores = self.scores(pod, nodes)
            finally:
                self._snapshot = None
            best = max(scores.values())
            node = self.random.choice(sorted(n for n, s in scores.items() if s == best))
            kubelet.bind(self.store, namespace, name, node)
            self.decisions.append((namespace, name, node))
            return node

    def _unschedulable(self, namespace: str, name: str) -> None:
        def mark(pod: dict) -> None:
            conditions = [c for c in pod["status"].get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                               "message": "0/N nodes are available", "lastTransitionTime": now()})
            pod["status"]["conditions"] = conditions

        self.store.update("pods", name, mark, namespace)

    def _usage(self) -> dict[str, dict[str, float]]:
        """node -> requests of its pods that still run (and their count as "pods")."""
        usage: dict[str, dict[str, float]] = {}
        for pod in self.store.snapshot("pods"):
            if not pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") in FINAL_PHASES:
                continue
            used = usage.setdefault(pod["spec"]["nodeName"], {"pods": 0.0})
            used["pods"] += 1
            uid = pod["metadata"]["uid"]
            if uid not in self._requests:  # a pod's requests cannot change through the API
                self._requests[uid] = pod_requests(pod)
            for key, amount in self._requests[uid].items():
                used[key] = used.get(key, 0.0) + amount
        return usage

    def _used(self, node_name: str) -> dict[str, float]:
        usage = self._snapshot if self._snapshot is not None else self._usage()
        return usage.get(node_name, {"pods": 0.0})

    def _free(self, node: dict) -> dict[str, float]:
        allocatable = {k: parse_quantity(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()}
        used, noise = self._used(node["metadata"]["name"]), self.background_load.get(node["metadata"]["name"], 0.0)
        return {k: v * (1 - noise if k in ("cpu", "memory") else 1) - used.get(k, 0.0) for k, v in allocatable.items()}

    def feasible(self, pod: dict, node: dict) -> bool:
        spec, labels = pod["spec"], node["metadata"].get("labels") or {}
        conditions = (node.get("status") or {}).get("conditions") or []
        if (node.get("spec") or {}).get("unschedulable"):
            return False
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return False
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
            return False
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution") or {}
        terms = required.get("nodeSelectorTerms") or []
        if terms and not any(term_matches(t, node) for t in terms):
            return False
        tolerations = spec.get("tolerations") or []
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
                return False
        free, wanted = self._free(node), pod_requests(pod)
        if free.get("pods", 1.0) < 1:
            return False
        return all(free.get(k, 0.0) >= amount for k, amount in wanted.items() if k in ("cpu", "memory"))

    def scores(self, pod: dict, nodes: list[dict]) -> dict[str, float]:
        spec = pod["spec"]
        preferred = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "preferredDuringSchedulingIgnoredDuringExecution") or []
        tolerations = spec.get("tolerations") or []
        wanted = pod_requests(pod)
        raw_affinity, raw_taints, resources = {}, {}, {}
        for node in nodes:
            name = node["metadata"]["name"]
            raw_affinity[name] = sum(p.get("weight", 0) for p in preferred if term_matches(p.get("preference") or {},
                                                                                            node))
            raw_taints[name] = sum(1 for t in (node.get("spec") or {}).get("taints") or []
                                   if t.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, t))
            allocatable = {k: parse_quantity(v) for k, v in (node["status"].get("allocatable") or {}).items()}
            free = self._free(node)
            parts = [max(0.0, free.get(k, 0.0) - wanted.get(k, 0.0)) * 100 / allocatable[k]
                     for k in ("cpu", "memory") if allocatable.get(k)]
            resources[name] = sum(parts) / len(parts) if parts else 0.0
        top_affinity, top_taints = max(raw_affinity.values()), max(raw_taints.values())
        return {
            name: WEIGHTS["affinity"] * (raw_affinity[name] * 100 / top_affinity if top_affinity else 0)
            + WEIGHTS["taints"] * (100 - raw_taints[name] * 100 / top_taints if top_taints else 100)
            + WEIGHTS["resources"] * resources[name]
            for name in raw_affinity
        }
