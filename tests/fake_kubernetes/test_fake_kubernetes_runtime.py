"""The process kubelet: a bound pod's containers really run here, in order, with volumes as directories."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from devops.testing.fake_kubernetes import kubelet
from devops.testing.fake_kubernetes.runtime import ProcessKubelet, expand
from devops.testing.fake_kubernetes.scheduler import Scheduler


@pytest.fixture
def node_cluster(fake_k8s, tmp_path):
    kubelet.add_node(fake_k8s.store, "node-1")
    scheduler = Scheduler(fake_k8s.store, seed=0).start()
    runtime = ProcessKubelet(fake_k8s.store, tmp_path / "kubelet").start()
    yield runtime
    runtime.stop()
    scheduler.stop()


def _wait_phase(core, name, phases=("Succeeded", "Failed"), timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, "default")
        if pod.status.phase in phases:
            return pod
        time.sleep(0.02)
    raise AssertionError(f"pod {name} is still {pod.status.phase}")


def test_expand():
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)-$$", env) == "1-two-$(C)-$(A)-$"


def test_init_then_steps_with_shared_volume_and_termination_message(node_cluster, core):
    shared = [{"name": "tools", "mountPath": "/tools"}, {"name": "cache", "mountPath": "/cache"}]
    core.create_namespaced_secret("default", {"metadata": {"name": "auth"}, "stringData": {"token": "t0k"}})
    pod = {
        "metadata": {"name": "run-1"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "tools", "emptyDir": {}},
                        {"name": "cache", "hostPath": {"path": "/var/cache/devops/p", "type": "DirectoryOrCreate"}}],
            "initContainers": [{"name": "install", "image": "busybox", "volumeMounts": shared[:1],
                                "command": ["/bin/sh", "-c", "echo ready > /tools/flag"]}],
            "containers": [
                {"name": "first", "image": "busybox", "volumeMounts": shared,
                 "env": [{"name": "WHO", "value": "first"},
                         {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "auth", "key": "token"}}},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "command": ["/bin/sh", "-c"],
                 "args": ["cat /tools/flag; echo $(WHO) $TOKEN $POD; echo hit >> /cache/log; touch /tools/first.done"]},
                {"name": "second", "image": "busybox", "volumeMounts": shared,
                 "command": ["/bin/sh", "-c", "while [ ! -e /tools/first.done ]; do sleep 0.01; done; "
                                              "echo second; printf 'exit=3' > /dev/termination-log; exit 3"]},
            ],
        },
    }
    core.create_namespaced_pod("default", pod)
    done = _wait_phase(core, "run-1")
    assert done.status.phase == "Failed" and done.spec.node_name == "node-1"
    states = {s.name: s.state.terminated for s in done.status.container_statuses}
    assert states["first"].exit_code == 0
    assert states["second"].exit_code == 3 and states["second"].message == "exit=3"
    assert done.status.init_container_statuses[0].state.terminated.exit_code == 0
    assert core.read_namespaced_pod_log("run-1", "default", container="first") == "ready\nfirst t0k run-1\n"
    assert core.read_namespaced_pod_log("run-1", "default", container="second") == "second\n"
    cache = node_cluster.root / "nodes" / "node-1" / "var/cache/devops/p" / "log"
    assert cache.read_text() == "hit\n"


def test_failed_init_container_fails_the_pod(node_cluster, core):
    core.create_namespaced_pod("default", {"metadata": {"name": "bad"}, "spec": {
        "initContainers": [{"name": "init", "image": "x", "command": ["/bin/sh", "-c", "exit 1"]}],
        "containers": [{"name": "main", "image": "x", "command": ["/bin/sh", "-c", "echo never"]}]}})
    pod = _wait_phase(core, "bad")
    assert pod.status.phase == "Failed" and pod.status.container_statuses is None


def test_deadline_and_deletion_kill_the_processes(node_cluster, core):
    sleeper = {"name": "main", "image": "x", "command": ["/bin/sh", "-c", "sleep 30"]}
    core.create_namespaced_pod("default", {"metadata": {"name": "slow"},
                                           "spec": {"activeDeadlineSeconds": 1, "containers": [sleeper]}})
    pod = _wait_phase(core, "slow", timeout=5)
    assert pod.status.reason == "DeadlineExceeded"
    core.create_namespaced_pod("default", {"metadata": {"name": "gone"}, "spec": {"containers": [sleeper]}})
    _wait_phase(core, "gone", phases=("Running",))
    core.delete_namespaced_pod("gone", "default")
    started = time.monotonic()
    while any(node_cluster._groups.values()) and time.monotonic() - started < 5:
        time.sleep(0.02)
    assert not any(node_cluster._groups.values())
    with pytest.raises(client.ApiException):
        core.read_namespaced_pod("gone", "default")
