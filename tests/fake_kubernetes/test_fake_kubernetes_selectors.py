"""Label and field selectors, through list calls of the real client."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException

from devops.testing.fake_kubernetes.selectors import parse_label_selector

PODS = {
    "a": {"env": "prod", "tier": "web"},
    "b": {"env": "dev", "tier": "web"},
    "c": {"env": "prod"},
    "d": {},
}

LABEL_CASES = [
    ("env=prod", ["a", "c"]),
    ("env==prod", ["a", "c"]),
    ("env!=prod", ["b", "d"]),
    ("env in (prod,dev)", ["a", "b", "c"]),
    ("env in (dev)", ["b"]),
    ("env notin (prod)", ["b", "d"]),
    ("tier", ["a", "b"]),
    ("!tier", ["c", "d"]),
    ("env=prod,tier", ["a"]),
    ("env in (prod, dev),!tier", ["c"]),
    ("tier=web,env notin (dev)", ["a"]),
    ("", ["a", "b", "c", "d"]),
]


@pytest.fixture
def labelled(core, pod_body):
    for name, labels in PODS.items():
        core.create_namespaced_pod("default", pod_body(name, labels))
    return core


@pytest.mark.parametrize(("selector", "expected"), LABEL_CASES)
def test_label_selector(labelled, selector, expected):
    items = labelled.list_namespaced_pod("default", label_selector=selector).items
    assert sorted(p.metadata.name for p in items) == expected


def test_bad_label_selector_is_400(labelled):
    with pytest.raises(ApiException) as exc:
        labelled.list_namespaced_pod("default", label_selector="env in prod")
    assert exc.value.status == 400 and '"reason":"BadRequest"' in exc.value.body


def test_parse_operators():
    ops = [(r.key, r.operator, sorted(r.values)) for r in parse_label_selector("a=1,b!=2,c in (x,y),d notin (z),e,!f")]
    assert ops == [("a", "=", ["1"]), ("b", "!=", ["2"]), ("c", "in", ["x", "y"]), ("d", "notin", ["z"]),
                   ("e", "exists", []), ("f", "!exists", [])]


def test_field_selectors(fake_k8s, core, pod_body):
    core.create_namespace({"metadata": {"name": "other"}})
    for ns, name in (("default", "a"), ("default", "b"), ("other", "c")):
        core.create_namespaced_pod(ns, pod_body(name))
    fake_k8s.store.update("pods", "a", lambda p: p["spec"].update(nodeName="node-1"), "default")
    fake_k8s.store.update("pods", "c", lambda p: p["status"].update(phase="Running"), "other")

    def names(**kwargs):
        return sorted(p.metadata.name for p in core.list_pod_for_all_namespaces(**kwargs).items)

    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=other") == ["c"]
    assert names(field_selector="metadata.namespace!=other") == ["a", "b"]
    assert names(field_selector="spec.nodeName=node-1") == ["a"]
    assert names(field_selector="spec.nodeName=") == ["b", "c"]
    assert names(field_selector="status.phase=Running") == ["c"]
    assert names(field_selector="status.phase!=Running,metadata.namespace=default") == ["a", "b"]
