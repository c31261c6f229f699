"""The process kubelet on hand-written pods: expansion, env from Secrets, mounts as local dirs,
termination messages, deletion and the active deadline. No database, no HTTP."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from devops.testing.fake_kubernetes import Store
from devops.testing.fake_kubernetes.process_env import PathMap, expand
from devops.testing.fake_kubernetes.process_kubelet import ProcessKubelet

NS = "ns"


def wait_for(predicate, timeout: float = 10, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {message}")
        time.sleep(0.02)
    return value


@pytest.fixture
def store(tmp_path: Path):
    store = Store()
    store.create("namespaces", {"metadata": {"name": NS}})
    kubelet = ProcessKubelet(store, "node-a", tmp_path / "kubelet").start()
    yield store
    kubelet.stop()


def pod(name: str, containers: list[dict], **spec) -> dict:
    for c in containers + spec.get("initContainers", []):
        c.setdefault("image", "busybox")
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"restartPolicy": "Never", "containers": containers, **spec}}  # fmt: skip


def status(store: Store, name: str, container: str) -> dict:
    got = store.get("pods", name, NS).get("status", {})
    statuses = (got.get("initContainerStatuses") or []) + (got.get("containerStatuses") or [])
    return next((s["state"] for s in statuses if s["name"] == container), {})


def terminated(store: Store, name: str, container: str) -> dict:
    return wait_for(lambda: status(store, name, container).get("terminated"), message=f"{container} never ended")


def test_expansion_rules():
    env = {"A": "x", "B": "y"}
    assert expand("$(A)-$$(B)-$$$(B)-$(C)-$$", env) == "x-$(B)-$y-$(C)-$"
    paths = PathMap({"/devops": "/tmp/d", "/workspace": "/tmp/w", "/devops-cache/kaniko": "/tmp/k"})
    assert paths.rewrite("/devops/runner.sh /devops-cache/kaniko dir:///workspace/. /x/workspace") == (
        "/tmp/d/runner.sh /tmp/k dir:///tmp/w/. /x/workspace"
    )


def test_env_secrets_mounts_and_termination_message(store, tmp_path):
    store.create("secrets", {"metadata": {"name": "creds", "namespace": NS},
                             "data": {"token": base64.b64encode(b"s3cret").decode()}})  # fmt: skip
    (tmp_path / "kubelet/nodes/node-a/var/cache/x").mkdir(parents=True, exist_ok=True)
    (tmp_path / "kubelet/nodes/node-a/var/cache/x/kept").write_text("")
    store.create("pods", pod("p1", [{
        "name": "main",
        "command": ["/bin/sh", "-c"],
        "args": ['echo "$(GREETING) $$HOME_IS_SET $TOKEN ${MISSING-unset} $(pwd)"; echo err >&2; '
                 'ls /cache; printf "%05000d" 0 > $$DEVOPS_TERMINATION_LOG; exit 7'],
        "workingDir": "/workspace/sub",
        "env": [{"name": "GREETING", "value": "hi"}, {"name": "HOME_IS_SET", "value": "yes"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                {"name": "MISSING", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}],
        "volumeMounts": [{"name": "ws", "mountPath": "/workspace"}, {"name": "cache", "mountPath": "/cache"}],
    }], volumes=[{"name": "ws", "emptyDir": {}},
                 {"name": "cache", "hostPath": {"path": "/var/cache/x", "type": "DirectoryOrCreate"}}]))  # fmt: skip
    state = terminated(store, "p1", "main")
    assert state["exitCode"] == 7 and len(state["message"]) == 4096
    assert store.get("pods", "p1", NS)["spec"]["nodeName"] == "node-a"  # bound by the kubelet itself
    assert store.get("pods", "p1", NS)["status"]["phase"] == "Failed"
    lines = store.log_text(NS, "p1", "main").splitlines()
    assert lines[0].startswith("hi yes s3cret unset /") and lines[0].endswith("/volumes/ws/sub")
    assert lines[1:] == ["err", "kept"]


def test_init_containers_run_first_and_deletion_kills(store, tmp_path):
    marker = tmp_path / "pid"
    store.create("pods", pod("p2", [{
        "name": "main", "command": ["/bin/sh", "-c", f"cat /data/init.txt; echo $$$$ > {marker}; sleep 300 & wait"],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }], initContainers=[{
        "name": "init", "command": ["/bin/sh", "-c", "echo from-init > /data/init.txt"],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }], volumes=[{"name": "data", "emptyDir": {}}]))  # fmt: skip
    wait_for(lambda: marker.exists() and marker.read_text().strip(), message="main never started")
    assert store.log_text(NS, "p2", "main") == "from-init\n"
    assert terminated(store, "p2", "init")["exitCode"] == 0
    assert store.get("pods", "p2", NS)["status"]["phase"] == "Running"
    pid = int(marker.read_text())
    store.delete("pods", "p2", NS)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=1, message="process survived its pod")


def test_active_deadline_fails_the_pod(store):
    store.create("pods", pod("p3", [{"name": "main", "command": ["sleep", "300"]}], activeDeadlineSeconds=1))
    state = terminated(store, "p3", "main")
    assert state["exitCode"] == 137
    got = store.get("pods", "p3", NS)["status"]
    assert (got["phase"], got["reason"]) == ("Failed", "DeadlineExceeded")
