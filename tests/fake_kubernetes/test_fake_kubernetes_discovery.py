"""API discovery: the dynamic client finds built-in kinds and the ImagePullJob custom resource."""

from __future__ import annotations

import pytest
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from devops.testing.fake_kubernetes import FakeKubernetes, ResourceType


@pytest.fixture
def dyn(api_client, tmp_path):
    return dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))


def test_dynamic_client_creates_an_image_pull_job(fake_k8s, dyn):
    jobs = dyn.resources.get(api_version="apps.kruise.io/v1alpha1", kind="ImagePullJob")
    assert jobs.namespaced
    body = {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ImagePullJob",
        "metadata": {"name": "preload-app"},
        "spec": {"image": "registry.local/app:1", "parallelism": 10, "completionPolicy": {"type": "Always"}},
    }
    created = jobs.create(body=body, namespace="default")
    assert created.metadata.uid and created.spec.image == "registry.local/app:1"
    assert fake_k8s.count("create", "imagepulljobs.apps.kruise.io") == 1
    assert [j.metadata.name for j in jobs.get(namespace="default").items] == ["preload-app"]
    jobs.patch(name="preload-app", namespace="default", body={"status": {"desired": 3}},
               content_type="application/merge-patch+json")
    jobs.delete(name="preload-app", namespace="default")
    with pytest.raises(NotFoundError):
        jobs.get(name="preload-app", namespace="default")


def test_dynamic_client_builtin_kinds(dyn):
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    pods.create(body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace="default")
    assert pods.get(name="p", namespace="default").status.phase == "Pending"
    roles = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole")
    assert not roles.namespaced
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced


def test_missing_crd_is_not_discovered(tmp_path):
    with FakeKubernetes(custom_resources=()) as server:
        api = client.ApiClient(client.Configuration(host=server.url))
        dyn = dynamic.DynamicClient(api, cache_file=str(tmp_path / "d.json"))
        with pytest.raises(ResourceNotFoundError):
            dyn.resources.get(api_version="apps.kruise.io/v1alpha1", kind="ImagePullJob")


def test_custom_resource_registered_later(fake_k8s, api_client):
    fake_k8s.store.register(ResourceType("example.com", "v1", "Widget", "widgets", namespaced=False))
    custom = client.CustomObjectsApi(api_client)
    created = custom.create_cluster_custom_object("example.com", "v1", "widgets",
                                                  {"apiVersion": "example.com/v1", "kind": "Widget",
                                                   "metadata": {"name": "w"}})
    assert created["metadata"]["resourceVersion"]
    assert custom.list_cluster_custom_object("example.com", "v1", "widgets")["items"][0]["metadata"]["name"] == "w"


def test_version_and_discovery_documents(api_client):
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.29")
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "rbac.authorization.k8s.io", "apps.kruise.io"} <= groups
    core = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "pods/log", "pods/status", "namespaces", "secrets", "nodes"} <= core


def test_creating_a_crd_serves_its_kind(api_client, tmp_path):
    with FakeKubernetes(custom_resources=()) as server:
        api = client.ApiClient(client.Configuration(host=server.url))
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "imagepulljobs.apps.kruise.io"},
            "spec": {"group": "apps.kruise.io", "scope": "Namespaced",
                     "names": {"kind": "ImagePullJob", "plural": "imagepulljobs", "singular": "imagepulljob"},
                     "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]},
        }
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        dyn = dynamic.DynamicClient(api, cache_file=str(tmp_path / "d.json"))
        jobs = dyn.resources.get(api_version="apps.kruise.io/v1alpha1", kind="ImagePullJob")
        jobs.create(body={"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
                          "metadata": {"name": "j"}, "spec": {"image": "x"}}, namespace="default")
        client.ApiextensionsV1Api(api).delete_custom_resource_definition(crd["metadata"]["name"])
        with pytest.raises(client.ApiException) as exc:
            client.CustomObjectsApi(api).list_namespaced_custom_object("apps.kruise.io", "v1alpha1", "default",
                                                                       "imagepulljobs")
        assert exc.value.status == 404
