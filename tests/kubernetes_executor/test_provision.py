"""Provisioning a project's pipeline namespace on the fake cluster with the unmodified client."""

from __future__ import annotations

import base64
import json

import kubernetes_validate
import pytest
from kubernetes import client

from devops.executors.kubernetes import names
from devops.executors.kubernetes.provision import ROLE_BINDING, provision
from devops.models import ProjectSecret, RegistryCredential
from devops.services import ensure_project
from devops.testing.fake_kubernetes.server import FakeKubernetes

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    with FakeKubernetes() as server:
        yield server


def make_namespaces(api: client.ApiClient, *namespaces: str) -> None:
    for namespace in namespaces:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})


def bindings(api: client.ApiClient, project: str) -> set[str]:
    rbac = client.RbacAuthorizationV1Api(api)
    listing = rbac.list_role_binding_for_all_namespaces(label_selector=f"{names.LABEL_PROJECT}={project}")
    return {b.metadata.namespace for b in listing.items if b.metadata.name == ROLE_BINDING}


def test_provisioning_twice_creates_nothing_twice(cluster):
    project = ensure_project("team")
    project.namespaces = ["team-dev", "team-prod"]
    project.save()
    RegistryCredential.objects.create(project=project, registry="registry.example.com", username="ci", password="pw-1")
    ProjectSecret.objects.create(project=project, name="codecov", data={"token": "tok-1"})
    api = cluster.api_client()
    make_namespaces(api, "team-dev", "team-prod")

    first = provision(api, project)
    assert set(first.created) == {
        "namespace", "serviceaccount", f"secret/{names.REGISTRY_SECRET}", "secret/devops-env-codecov",
        "deployment/registry", "service/registry", "rolebinding/team-dev", "rolebinding/team-prod",
        "configmap/devops-runner",
    }  # fmt: skip
    creates = cluster.count("create")
    second = provision(api, project)
    assert second.created == [] and second.updated == [] and second.deleted == [] and second.warnings == []
    assert cluster.count("create") == creates + len(first.created)  # tried, all answered 409

    core = client.CoreV1Api(api)
    ns = names.namespace("team")
    auth = core.read_namespaced_secret(names.REGISTRY_SECRET, ns)
    assert auth.type == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(auth.data[".dockerconfigjson"]))
    assert base64.b64decode(config["auths"]["registry.example.com"]["auth"]) == b"ci:pw-1"
    env = core.read_namespaced_secret("devops-env-codecov", ns)
    assert base64.b64decode(env.data["token"]) == b"tok-1"

    for manifest in first.manifests:
        for version in ("1.29", kubernetes_validate.latest_version()):
            kubernetes_validate.validate(manifest, version, strict=True)


def test_role_bindings_follow_the_projects_namespaces(cluster):
    project = ensure_project("shop")
    project.namespaces = ["shop-dev", "shop-prod"]
    project.save()
    api = cluster.api_client()
    make_namespaces(api, "shop-dev", "shop-prod", "shop-stage", "blog-prod")
    provision(api, project)
    assert bindings(api, "shop") == {"shop-dev", "shop-prod"}

    project.namespaces = ["shop-dev", "shop-stage"]
    project.save()
    result = provision(api, project)
    assert result.created == ["rolebinding/shop-stage"] and result.deleted == ["rolebinding/shop-prod"]
    assert bindings(api, "shop") == {"shop-dev", "shop-stage"}
    binding = client.RbacAuthorizationV1Api(api).read_namespaced_role_binding(ROLE_BINDING, "shop-dev")
    subjects = [(s.kind, s.name, s.namespace) for s in binding.subjects]
    assert subjects == [("ServiceAccount", "pipeline", "shop-pipeline")]
    assert binding.role_ref.name == "edit"
    # Another project's bindings are left alone.
    other = ensure_project("blog")
    other.namespaces = ["blog-prod"]
    other.save()
    provision(api, other)
    provision(api, project)
    assert bindings(api, "blog") == {"blog-prod"}


def test_changed_secret_values_are_replaced(cluster):
    project = ensure_project("rotate")
    secret = ProjectSecret.objects.create(project=project, name="api", data={"key": "old"})
    api = cluster.api_client()
    provision(api, project)
    secret.data = {"key": "new"}
    secret.save()
    result = provision(api, project)
    assert result.updated == ["secret/devops-env-api"] and result.created == []
    stored = client.CoreV1Api(api).read_namespaced_secret("devops-env-api", names.namespace("rotate"))
    assert base64.b64decode(stored.data["key"]) == b"new"


def test_a_missing_project_namespace_is_reported_not_fatal(cluster):
    project = ensure_project("ghost")
    project.namespaces = ["ghost-prod"]
    project.save()
    result = provision(cluster.api_client(), project)
    assert "namespace" in result.created
    assert result.warnings == ["namespace ghost-prod does not exist: pipelines cannot deploy there until it is created"]


def test_the_periodic_reconcile_repairs_a_deleted_object(cluster):
    from devops.engine.maintenance import reconcile_projects
    from devops.models import Cluster

    project = ensure_project("drift")
    project.cluster = Cluster.objects.create(name="drift", kubeconfig=cluster.kubeconfig())
    project.save()
    api = cluster.api_client()
    provision(api, project)
    core = client.CoreV1Api(api)
    core.delete_namespaced_service_account(names.SERVICE_ACCOUNT, names.namespace("drift"))
    assert reconcile_projects() == {"reconciled": 1}
    assert core.read_namespaced_service_account(names.SERVICE_ACCOUNT, names.namespace("drift"))


def test_the_runner_script_config_map_follows_the_code(cluster):
    from devops.executors.kubernetes.runner_script import RUNNER_CONFIG_MAP, RUNNER_SCRIPT

    project = ensure_project("upgrade")
    api = cluster.api_client()
    provision(api, project)
    core = client.CoreV1Api(api)
    namespace = names.namespace("upgrade")
    assert core.read_namespaced_config_map(RUNNER_CONFIG_MAP, namespace).data == {"runner.sh": RUNNER_SCRIPT}
    # An older release's script in the namespace is replaced by this release's.
    core.patch_namespaced_config_map(RUNNER_CONFIG_MAP, namespace, {"data": {"runner.sh": "# old\n"}})
    assert provision(api, project).updated == [f"configmap/{RUNNER_CONFIG_MAP}"]
    assert core.read_namespaced_config_map(RUNNER_CONFIG_MAP, namespace).data == {"runner.sh": RUNNER_SCRIPT}
