"""The simulation hooks: what a simulated scheduler/kubelet writes is what the real client reads and watches."""

from __future__ import annotations

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

from devops.testing.fake_kubernetes import kubelet


def test_container_states_drive_the_phase(fake_k8s, core, pod_body):
    store = fake_k8s.store
    core.create_namespaced_pod("default", pod_body("run", containers=("step-1", "step-2")))
    kubelet.add_node(store, "node-1", {"zone": "a"})
    assert [p["metadata"]["name"] for p in kubelet.unscheduled_pods(store)] == ["run"]
    kubelet.bind(store, "default", "run", "node-1")
    assert kubelet.unscheduled_pods(store) == []
    kubelet.set_container_state(store, "default", "run", "step-1", "running")
    assert core.read_namespaced_pod("run", "default").status.phase == "Running"
    kubelet.set_container_state(store, "default", "run", "step-1", "terminated", exit_code=0)
    kubelet.set_container_state(store, "default", "run", "step-2", "terminated", exit_code=3, message="boom")
    pod = core.read_namespaced_pod("run", "default")
    assert pod.spec.node_name == "node-1" and pod.status.phase == "Failed"
    states = {s.name: s.state for s in pod.status.container_statuses}
    assert states["step-1"].terminated.exit_code == 0
    assert states["step-2"].terminated.exit_code == 3 and states["step-2"].terminated.message == "boom"
    assert core.read_node("node-1").metadata.labels["zone"] == "a"


def test_waiting_and_eviction_are_visible_to_watchers(fake_k8s, core, pod_body):
    store = fake_k8s.store
    core.create_namespaced_pod("default", pod_body("run"))
    rv = core.list_namespaced_pod("default").metadata.resource_version
    kubelet.set_container_state(store, "default", "run", "main", "waiting", reason="ImagePullBackOff")
    kubelet.set_pod_phase(store, "default", "run", "Failed", reason="Evicted", message="low on memory")
    events = list(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=0))
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED"]
    assert events[0]["object"].status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    assert events[1]["object"].status.reason == "Evicted"


def test_api_cannot_change_a_pod_spec_but_may_change_images(core, pod_body):
    core.create_namespaced_pod("default", pod_body("run"))
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod("run", "default", {"spec": {"nodeName": "elsewhere"}})
    assert exc.value.status == 422 and '"reason":"Invalid"' in exc.value.body
    pod = core.patch_namespaced_pod("run", "default", {"spec": {"activeDeadlineSeconds": 60}})
    assert pod.spec.active_deadline_seconds == 60


@pytest.mark.parametrize("body", [
    {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    {"metadata": {"name": "ok", "labels": {"run": "x" * 64}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    {"metadata": {"name": "ok"}, "spec": {"containers": []}},
    {"metadata": {"name": "ok"}, "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c", "image": "i"}]}},
    {"metadata": {"name": "ok"}, "spec": {"containers": [{"name": "c"}]}},
])
def test_invalid_pods_are_422(core, body):
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("default", body)
    assert exc.value.status == 422


def test_list_pages_with_limit_and_continue(fake_k8s, core, pod_body):
    for i in range(5):
        core.create_namespaced_pod("default", pod_body(f"p{i}"))
    first = core.list_namespaced_pod("default", limit=2)
    assert [p.metadata.name for p in first.items] == ["p0", "p1"] and first.metadata.remaining_item_count == 3
    second = core.list_namespaced_pod("default", limit=2, _continue=first.metadata._continue)
    assert [p.metadata.name for p in second.items] == ["p2", "p3"]
    core.create_namespaced_pod("default", pod_body("p5"))
    fake_k8s.store.compact()
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("default", limit=2, _continue=second.metadata._continue)
    assert exc.value.status == 410


def test_server_side_apply_creates_then_patches(api_client, fake_k8s):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    path = "/api/v1/namespaces/default/configmaps/cfg"
    for expected, data in ((201, {"a": "1"}), (200, {"a": "2"})):
        _, status, _ = api_client.call_api(path, "PATCH", body={**body, "data": data}, query_params=[
            ("fieldManager", "test")], header_params={"Content-Type": "application/apply-patch+yaml"},
            _preload_content=False, _return_http_data_only=False)
        assert status == expected
    assert fake_k8s.store.get("configmaps", "cfg", "default")["data"] == {"a": "2"}
