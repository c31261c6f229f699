"""CRUD through the real client on every built-in kind, with the API server's Status errors."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _meta(name: str) -> dict:
    return {"name": name, "labels": {"app": "demo"}}


# kind -> (api class, method suffix, namespaced, body)
KINDS = {
    "namespace": (client.CoreV1Api, "namespace", False, {"metadata": _meta("team-a")}),
    "pod": (client.CoreV1Api, "namespaced_pod", True, {
        "metadata": _meta("web"), "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
    }),
    "service": (client.CoreV1Api, "namespaced_service", True,
                {"metadata": _meta("svc"), "spec": {"selector": {"app": "demo"}, "ports": [{"port": 5000}]}}),
    "serviceaccount": (client.CoreV1Api, "namespaced_service_account", True, {"metadata": _meta("builder")}),
    "secret": (client.CoreV1Api, "namespaced_secret", True,
               {"metadata": _meta("auth"), "type": "Opaque", "stringData": {"token": "s3cret"}}),
    "configmap": (client.CoreV1Api, "namespaced_config_map", True, {"metadata": _meta("cfg"), "data": {"a": "1"}}),
    "node": (client.CoreV1Api, "node", False, {"metadata": _meta("node-1"), "spec": {}}),
    "deployment": (client.AppsV1Api, "namespaced_deployment", True, {
        "metadata": _meta("registry"),
        "spec": {"selector": {"matchLabels": {"app": "demo"}},
                 "template": {"metadata": {"labels": {"app": "demo"}},
                              "spec": {"containers": [{"name": "registry", "image": "registry:2"}]}}},
    }),
    "role": (client.RbacAuthorizationV1Api, "namespaced_role", True,
             {"metadata": _meta("deployer"), "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
    "rolebinding": (client.RbacAuthorizationV1Api, "namespaced_role_binding", True, {
        "metadata": _meta("deployer"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "default"}],
    }),
    "clusterrole": (client.RbacAuthorizationV1Api, "cluster_role", False, {
        "metadata": _meta("viewer"), "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
    }),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_crud_each_kind(api_client, kind):
    api_cls, suffix, namespaced, body = KINDS[kind]
    api = api_cls(api_client)
    ns_args = ("default",) if namespaced else ()
    name = body["metadata"]["name"]

    created = getattr(api, f"create_{suffix}")(*ns_args, body)
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.generation == 1
    rv1 = int(created.metadata.resource_version)

    with pytest.raises(ApiException) as exc:
        getattr(api, f"create_{suffix}")(*ns_args, body)
    assert exc.value.status == 409 and "AlreadyExists" in exc.value.body

    got = getattr(api, f"read_{suffix}")(name, *ns_args)
    assert got.metadata.uid == created.metadata.uid

    listed = getattr(api, f"list_{suffix}")(*ns_args, label_selector="app=demo")
    assert [item.metadata.name for item in listed.items] == [name]
    assert int(listed.metadata.resource_version) >= rv1

    patched = getattr(api, f"patch_{suffix}")(name, *ns_args, {"metadata": {"labels": {"patched": "yes"}}})
    assert {"app": "demo", "patched": "yes"}.items() <= patched.metadata.labels.items()
    assert int(patched.metadata.resource_version) > rv1

    patched.metadata.annotations = {"replaced": "true"}
    replaced = getattr(api, f"replace_{suffix}")(name, *ns_args, patched)
    assert replaced.metadata.annotations == {"replaced": "true"}

    stale = api_client.sanitize_for_serialization(created)
    with pytest.raises(ApiException) as exc:
        getattr(api, f"replace_{suffix}")(name, *ns_args, stale)
    assert exc.value.status == 409 and '"reason":"Conflict"' in exc.value.body

    getattr(api, f"delete_{suffix}")(name, *ns_args)
    with pytest.raises(ApiException) as exc:
        getattr(api, f"read_{suffix}")(name, *ns_args)
    assert exc.value.status == 404
    assert '"reason":"NotFound"' in exc.value.body and '"kind":"Status"' in exc.value.body


def test_secret_string_data_is_stored_base64(core):
    core.create_namespaced_secret("default", KINDS["secret"][3])
    secret = core.read_namespaced_secret("auth", "default")
    assert base64.b64decode(secret.data["token"]) == b"s3cret"
    assert secret.string_data is None


def test_namespaced_create_needs_the_namespace(core):
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert exc.value.status == 404 and 'namespaces \\"nowhere\\" not found' in exc.value.body


def test_delete_namespace_removes_its_objects(core):
    core.create_namespace({"metadata": {"name": "p-pipeline"}})
    core.create_namespaced_config_map("p-pipeline", {"metadata": {"name": "x"}})
    core.delete_namespace("p-pipeline")
    assert core.list_config_map_for_all_namespaces().items == []


def test_generate_name_and_cross_namespace_list(core, pod_body):
    core.create_namespace({"metadata": {"name": "other"}})
    a = core.create_namespaced_pod("default", {**pod_body(""), "metadata": {"generateName": "run-"}})
    core.create_namespaced_pod("other", pod_body("b"))
    assert a.metadata.name.startswith("run-") and len(a.metadata.name) == 9
    names = sorted(p.metadata.name for p in core.list_pod_for_all_namespaces().items)
    assert names == sorted([a.metadata.name, "b"])


def test_pod_status_subresource_guards_spec_and_status(core, pod_body):
    core.create_namespaced_pod("default", pod_body("p"))
    # the main resource ignores status; /status ignores everything but status
    core.patch_namespaced_pod("p", "default", {"status": {"phase": "Running"}})
    assert core.read_namespaced_pod("p", "default").status.phase == "Pending"
    pod = core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"},
                                                             "metadata": {"labels": {"no": "way"}}})
    assert pod.status.phase == "Running" and not pod.metadata.labels
    assert core.read_namespaced_pod_status("p", "default").status.phase == "Running"


def test_json_patch_and_generation(api_client):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment("default", KINDS["deployment"][3])
    dep = apps.patch_namespaced_deployment("registry", "default", [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/tier", "value": "infra"},
    ])
    assert dep.spec.replicas == 3 and dep.metadata.labels["tier"] == "infra"
    assert dep.metadata.generation == 2
    same = apps.patch_namespaced_deployment("registry", "default", {"spec": {"replicas": 3}})
    assert same.metadata.resource_version == dep.metadata.resource_version  # no-op write


def test_pod_delete_returns_the_pod_and_deletecollection(core, pod_body):
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_pod("default", pod_body(name, {"tier": tier}))
    assert core.delete_namespaced_pod("a", "default").metadata.name == "a"
    core.delete_collection_namespaced_pod("default", label_selector="tier=x")
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["c"]
