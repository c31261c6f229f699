"""The server itself: call counters, fault injection, HTTP details, and the Python hooks for a kubelet."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from kubernetes.client.rest import ApiException


def test_counters_per_verb_and_resource(fake_k8s, core, pod_body):
    core.create_namespaced_pod("default", pod_body("a"))
    core.read_namespaced_pod("a", "default")
    core.list_namespaced_pod("default", label_selector="x=y")
    core.list_namespaced_pod("default")
    core.patch_namespaced_pod_status("a", "default", {"status": {"phase": "Running"}})
    assert fake_k8s.calls[("list", "pods")] == 2
    assert fake_k8s.count("create", "pods") == 1
    assert fake_k8s.count("get") == 1
    assert fake_k8s.count(resource="pods/status") == 1
    assert fake_k8s.count() == 5
    fake_k8s.reset_calls()
    assert fake_k8s.count() == 0


def test_fail_next(fake_k8s, core, pod_body):
    fake_k8s.fail_next("create", "pods", 500)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("default", pod_body("a"))
    assert exc.value.status == 500 and '"reason":"InternalError"' in exc.value.body
    core.create_namespaced_pod("default", pod_body("a"))  # only the next one failed
    fake_k8s.fail_next("list", "*", 429, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            core.list_namespaced_pod("default")
        assert exc.value.status == 429
    assert len(core.list_namespaced_pod("default").items) == 1
    assert fake_k8s.count("create", "pods") == 2  # failed calls are counted too


def test_post_without_content_type(fake_k8s):
    body = json.dumps({"metadata": {"name": "raw"}, "data": {"k": "v"}}).encode()
    request = urllib.request.Request(f"{fake_k8s.url}/api/v1/namespaces/default/configmaps", data=body,
                                     method="POST")
    request.remove_header("Content-type")
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 201 and resp.headers["Content-Type"] == "application/json"
        assert json.loads(resp.read())["metadata"]["uid"]


def test_unknown_path_is_a_404_status(fake_k8s):
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{fake_k8s.url}/apis/nope.io/v1/things")
    assert exc.value.code == 404 and json.loads(exc.value.read())["kind"] == "Status"


def test_keep_alive_requests_are_fast(core):
    """Nagle off and keep-alive: small request/response pairs must not stall ~40 ms each."""
    core.list_namespaced_pod("default")
    started = time.monotonic()
    for _ in range(50):
        core.read_namespace("default")
    assert (time.monotonic() - started) / 50 < 0.02


def test_kubelet_hooks_update_and_subscribe(fake_k8s, core, pod_body):
    seen = []
    unsubscribe = fake_k8s.store.subscribe(lambda e: seen.append((e.type, e.rt.plural, e.obj["metadata"]["name"])))
    core.create_namespaced_pod("default", pod_body("a"))

    def run(pod):
        pod["spec"]["nodeName"] = "node-1"
        pod["status"].update(phase="Running", containerStatuses=[
            {"name": "main", "ready": True, "restartCount": 0, "image": "busybox:1.36", "imageID": "",
             "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}])

    fake_k8s.store.update("pods", "a", run, "default")
    unsubscribe()
    pod = core.read_namespaced_pod("a", "default")
    assert pod.spec.node_name == "node-1" and pod.status.phase == "Running"
    assert pod.status.container_statuses[0].state.running is not None
    assert seen == [("ADDED", "pods", "a"), ("MODIFIED", "pods", "a")]


def test_binding_sets_the_node(fake_k8s, core, pod_body):
    core.create_namespaced_pod("default", pod_body("a"))
    core.create_namespaced_binding("default", {"metadata": {"name": "a"}, "target": {"kind": "Node", "name": "n1"}})
    assert core.read_namespaced_pod("a", "default").spec.node_name == "n1"


def test_stop_ends_open_watches(fake_k8s, core):
    import threading

    from kubernetes import watch

    done = threading.Event()

    def watcher():
        # Ended either cleanly or by the closed connection (a stopping server may cut a chunk short):
        # what matters is that the client is not left waiting.
        try:
            list(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version="1", timeout_seconds=60))
        except Exception:  # noqa: BLE001
            pass
        finally:
            done.set()

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    time.sleep(0.2)
    fake_k8s.stop()
    assert done.wait(5)


def test_concurrent_clients_and_watchers(fake_k8s, api_client, pod_body):
    import threading

    from kubernetes import client, watch

    errors: list[BaseException] = []
    rv = client.CoreV1Api(api_client).list_namespaced_pod("default").metadata.resource_version
    seen: list[str] = []

    def watcher():
        api = client.CoreV1Api(client.ApiClient(client.Configuration(host=fake_k8s.url)))
        for event in watch.Watch().stream(api.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=2):
            if event["type"] == "ADDED":
                seen.append(event["object"].metadata.name)
            if len(seen) == 80:
                break

    def writer(n: int):
        try:
            api = client.CoreV1Api(client.ApiClient(client.Configuration(host=fake_k8s.url)))
            for i in range(10):
                api.create_namespaced_pod("default", pod_body(f"w{n}-{i}", {"writer": str(n)}))
                api.list_namespaced_pod("default", label_selector=f"writer={n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    watching = threading.Thread(target=watcher)
    watching.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    watching.join()
    assert errors == []
    assert sorted(seen) == sorted(f"w{n}-{i}" for n in range(8) for i in range(10))
    assert fake_k8s.count("create", "pods") == 80 and fake_k8s.count("list", "pods") == 81


def test_unknown_method_answers_status_json(fake_k8s):
    import http.client

    conn = http.client.HTTPConnection(fake_k8s.url.removeprefix("http://"))
    conn.request("BREW", "/api/v1/pods")
    resp = conn.getresponse()
    assert resp.status == 501 and resp.getheader("Content-Type") == "application/json"
    assert json.loads(resp.read())["kind"] == "Status"
    conn.request("OPTIONS", "/api/v1/pods")
    resp = conn.getresponse()
    assert resp.status == 405 and json.loads(resp.read())["code"] == 405
    conn.close()
