"""The pod log subresource: text/plain per container, tailLines, follow, and the kubelet-side append hook."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def running_pod(fake_k8s, core, pod_body):
    core.create_namespaced_pod("default", pod_body("build", containers=("clone", "test")))
    fake_k8s.store.update("pods", "build", lambda p: p["status"].update(phase="Running"), "default")
    fake_k8s.store.append_log("default", "build", "clone", "cloning\ndone\n")
    fake_k8s.store.append_log("default", "build", "test", "".join(f"line {i}\n" for i in range(1, 6)))
    return "build"


def test_log_per_container_and_tail_lines(core, running_pod):
    assert core.read_namespaced_pod_log(running_pod, "default", container="clone") == "cloning\ndone\n"
    assert core.read_namespaced_pod_log(running_pod, "default", container="test", tail_lines=2) == "line 4\nline 5\n"
    assert core.read_namespaced_pod_log(running_pod, "default", container="test", tail_lines=0) == ""


def test_log_is_text_plain(fake_k8s, running_pod):
    url = f"{fake_k8s.url}/api/v1/namespaces/default/pods/{running_pod}/log?container=clone&follow=false"
    with urllib.request.urlopen(url) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.read() == b"cloning\ndone\n"


def test_log_errors(core, pod_body, running_pod):
    with pytest.raises(ApiException) as exc:  # two containers: one must be named
        core.read_namespaced_pod_log(running_pod, "default")
    assert exc.value.status == 400 and "choose one of: [clone test]" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log(running_pod, "default", container="nope")
    assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("missing", "default")
    assert exc.value.status == 404
    core.create_namespaced_pod("default", pod_body("pending"))
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("pending", "default")
    assert exc.value.status == 400 and "waiting to start" in exc.value.body


def test_logs_go_with_the_pod(fake_k8s, core, running_pod):
    core.delete_namespaced_pod(running_pod, "default")
    assert fake_k8s.store.log_text("default", running_pod, "clone") is None


def test_follow_streams_until_the_container_ends(fake_k8s, core, running_pod):
    def kubelet():
        time.sleep(0.2)
        fake_k8s.store.append_log("default", running_pod, "clone", "more\n")
        time.sleep(0.1)
        fake_k8s.store.update("pods", running_pod, lambda p: p["status"].update(phase="Succeeded"), "default")

    thread = threading.Thread(target=kubelet)
    thread.start()
    lines = list(watch.Watch().stream(core.read_namespaced_pod_log, running_pod, "default", container="clone"))
    thread.join()
    assert lines == ["cloning", "done", "more"]
