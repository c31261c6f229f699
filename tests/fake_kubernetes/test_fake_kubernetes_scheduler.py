"""The simulated scheduler: filters (selectors, affinity, taints, fit) and scores (preferred affinity vs load)."""

from __future__ import annotations

import time

import pytest

from devops.testing.fake_kubernetes import kubelet
from devops.testing.fake_kubernetes.scheduler import Scheduler


@pytest.fixture
def cluster(fake_k8s):
    store = fake_k8s.store
    for i in range(4):
        kubelet.add_node(store, f"node-{i}", {"zone": "a" if i < 2 else "b", "rank": str(i)}, cpu="4", memory="8Gi")
    kubelet.add_node(store, "virtual", {"type": "virtual-kubelet"},
                     taints=[{"key": "virtual-kubelet.io/provider", "value": "x", "effect": "NoSchedule"}])
    return store


def _pod(name: str, **spec) -> dict:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": spec.pop("resources", {})}],
                     **spec}}


def _preferred(*weighted: tuple[int, str]) -> dict:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": {"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}} for w, node in weighted]}}


def test_preferred_affinity_against_load(cluster):
    """As kube-scheduler: affinity x2 (normalised) + least-allocated x1, so heavy load moves a pod down the list."""
    scheduler = Scheduler(cluster, background_load={"node-2": 0.1}, seed=1)
    cluster.create("pods", _pod("a", affinity=_preferred((100, "node-2"), (90, "node-3"))), "default")
    assert scheduler.schedule("default", "a") == "node-2"
    assert cluster.get("pods", "a", "default")["spec"]["nodeName"] == "node-2"
    scheduler.background_load["node-2"] = 0.5  # 20 points of affinity lost, 40+ of free capacity won
    cluster.create("pods", _pod("b", affinity=_preferred((100, "node-2"), (90, "node-3"))), "default")
    assert scheduler.schedule("default", "b") == "node-3"
    cluster.create("pods", _pod("c", affinity=_preferred((100, "node-0"))), "default")
    assert scheduler.schedule("default", "c") == "node-0"  # the only preferred node beats all unloaded ones


def test_a_full_preferred_node_falls_back_to_the_next(cluster):
    scheduler = Scheduler(cluster, background_load={"node-2": 0.9}, seed=1)
    big = {"requests": {"cpu": "1", "memory": "1Gi"}}
    cluster.create("pods", _pod("a", resources=big, affinity=_preferred((100, "node-2"), (90, "node-3"))), "default")
    assert scheduler.schedule("default", "a") == "node-3"


def test_without_affinity_the_least_loaded_node_wins(cluster):
    scheduler = Scheduler(cluster, background_load={"node-0": 0.5, "node-1": 0.4, "node-2": 0.3, "node-3": 0.2})
    cluster.create("pods", _pod("a"), "default")
    assert scheduler.schedule("default", "a") == "node-3"


def test_filters(cluster):
    scheduler = Scheduler(cluster, seed=3)
    cluster.create("pods", _pod("sel", nodeSelector={"zone": "b"}), "default")
    assert scheduler.schedule("default", "sel") in ("node-2", "node-3")
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "rank", "operator": "Gt", "values": ["2"]}]}]}}}
    cluster.create("pods", _pod("req", affinity=required), "default")
    assert scheduler.schedule("default", "req") == "node-3"
    tolerations = [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
    cluster.create("pods", _pod("vk", nodeSelector={"type": "virtual-kubelet"}, tolerations=tolerations), "default")
    assert scheduler.schedule("default", "vk") == "virtual"
    cluster.create("pods", _pod("no-tol", nodeSelector={"type": "virtual-kubelet"}), "default")
    assert scheduler.schedule("default", "no-tol") is None
    conditions = cluster.get("pods", "no-tol", "default")["status"]["conditions"]
    assert conditions[-1]["reason"] == "Unschedulable"
    cluster.create("pods", _pod("huge", resources={"requests": {"cpu": "64"}}), "default")
    assert scheduler.schedule("default", "huge") is None


def test_background_scheduler_binds_pods_created_over_the_api(cluster, core, pod_body):
    scheduler = Scheduler(cluster, seed=0).start()
    try:
        core.create_namespaced_pod("default", pod_body("web"))
        deadline = time.monotonic() + 5
        while not core.read_namespaced_pod("web", "default").spec.node_name and time.monotonic() < deadline:
            time.sleep(0.01)
        assert core.read_namespaced_pod("web", "default").spec.node_name.startswith("node-")
        assert scheduler.decisions[0][:2] == ("default", "web")
    finally:
        scheduler.stop()
