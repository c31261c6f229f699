"""Watch through ``kubernetes.watch.Watch().stream``: from a resourceVersion, timeoutSeconds, 410 Gone."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException


def test_watch_from_version_gets_later_events_and_ends_at_timeout(core, pod_body):
    core.create_namespaced_pod("default", pod_body("old"))
    rv = core.list_namespaced_pod("default").metadata.resource_version

    def later():
        time.sleep(0.2)
        core.create_namespaced_pod("default", pod_body("new"))
        core.patch_namespaced_pod("new", "default", {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_pod("new", "default")

    writer = threading.Thread(target=later)
    writer.start()
    started = time.monotonic()
    seen = [(e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=1)]
    elapsed = time.monotonic() - started
    writer.join()
    assert seen == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]
    assert 0.9 <= elapsed < 3


def test_watch_without_version_starts_with_current_state_and_filters(core, pod_body):
    core.create_namespaced_pod("default", pod_body("a", {"app": "x"}))
    core.create_namespaced_pod("default", pod_body("b", {"app": "y"}))
    stream = watch.Watch().stream(core.list_namespaced_pod, "default", label_selector="app=x", timeout_seconds=0)
    assert [(e["type"], e["object"].metadata.name) for e in stream] == [("ADDED", "a")]


def test_watch_can_be_stopped_early(core, pod_body):
    w = watch.Watch()
    core.create_namespaced_pod("default", pod_body("a"))
    started = time.monotonic()
    for event in w.stream(core.list_namespaced_pod, "default", timeout_seconds=30):
        assert event["object"].metadata.name == "a"
        w.stop()
    assert time.monotonic() - started < 2


def test_too_old_version_is_410_gone(fake_k8s, core, pod_body):
    core.create_namespaced_pod("default", pod_body("a"))
    old = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod_body("b"))
    fake_k8s.store.compact()
    with pytest.raises(ApiException) as exc:
        list(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=1))
    assert exc.value.status == 410
    assert "too old resource version" in exc.value.reason


def test_history_limit_expires_versions(pod_body):
    from kubernetes import client

    from devops.testing.fake_kubernetes import FakeKubernetes

    with FakeKubernetes(history=3) as server:
        api = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
        start = api.list_namespaced_pod("default").metadata.resource_version
        for i in range(5):
            api.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        with pytest.raises(ApiException) as exc:
            list(watch.Watch().stream(api.list_namespaced_pod, "default", resource_version=start, timeout_seconds=1))
        assert exc.value.status == 410
