"""The chart's RBAC for the service account: exactly what the Kubernetes executor calls, nothing more.

Two holds on it. EXPECTED_RULES is the list, written out: adding or removing a verb or a resource in
the chart fails here until this list (and docs/operations.md "RBAC") says so too. And the executor's
real flow (provision, launch twice, sync with a preload, the live log, abort, reconcile after drift)
runs against the fake API server, which records every request: each must be allowed by the chart, and
each permission the chart grants must have been used.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from deploy_support import NAMESPACE, RELEASE, objects, production_values, render

from devops import engine
from devops.engine import maintenance
from devops.executors import executor_for
from devops.executors.kubernetes import names
from devops.executors.kubernetes.provision import DEPLOY_CLUSTER_ROLE
from devops.executors.kubernetes.runner_script import RUNNER_CONFIG_MAP
from devops.models import Cluster, PipelineExecution, ProjectSecret, RegistryCredential
from devops.pipeline_config import parse_pipeline
from devops.services import ensure_pipeline, ensure_project
from devops.testing.fake_kubernetes import kubelet
from devops.testing.fake_kubernetes.resources import IMAGE_PULL_JOB
from devops.testing.fake_kubernetes.server import FakeKubernetes

RBAC = "rbac.authorization.k8s.io"
# (apiGroup, resource, verbs, resourceNames): the whole of the chart's ClusterRole.
EXPECTED_RULES = sorted(
    [
        ("", "namespaces", ("create",), ()),
        ("", "serviceaccounts", ("create",), ()),
        ("", "services", ("create",), ()),
        ("", "secrets", ("create", "get", "update"), ()),
        ("", "configmaps", ("create", "get", "update"), ()),
        ("", "pods", ("create", "delete", "get", "list"), ()),
        ("", "pods/log", ("get",), ()),
        ("apps", "deployments", ("create",), ()),
        (RBAC, "rolebindings", ("create", "delete", "list"), ()),
        # The API server lets a RoleBinding grant a ClusterRole only to whoever holds its permissions or
        # may `bind` it; the provisioner binds `edit` in the project's namespaces. The fake server has no
        # RBAC, so this one is checked against provision.DEPLOY_CLUSTER_ROLE instead of a recorded call.
        (RBAC, "clusterroles", ("bind",), ("edit",)),
        ("apps.kruise.io", "imagepulljobs", ("create",), ()),
    ]
)
CLUSTER_ROLE = f"{NAMESPACE}-{RELEASE}-devops-executor"


def granted(docs: list[dict[str, Any]]) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """The chart's ClusterRole as (group, resource, verbs, resourceNames), one row per group and resource."""
    rows: dict[tuple[str, str, tuple[str, ...]], set[str]] = {}
    for rule in objects(docs, "ClusterRole")[CLUSTER_ROLE]["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group, resource, tuple(sorted(rule.get("resourceNames") or ())))
                rows.setdefault(key, set()).update(rule["verbs"])
    return sorted((g, r, tuple(sorted(verbs)), n) for (g, r, n), verbs in rows.items())


def allows(docs: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether the ClusterRole allows a request on any object of that resource (no resourceNames)."""
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        and not rule.get("resourceNames")
        for rule in objects(docs, "ClusterRole")[CLUSTER_ROLE]["rules"]
    )  # fmt: skip


@pytest.mark.parametrize("values", ["default", "production"])
def test_the_chart_grants_exactly_the_listed_rules(values: str) -> None:
    docs = render(production_values() if values == "production" else {})
    assert granted(docs) == EXPECTED_RULES


def test_bound_to_the_service_account_alone_and_nothing_like_cluster_admin() -> None:
    docs = render()
    assert set(objects(docs, "ClusterRole")) == {CLUSTER_ROLE}
    assert objects(docs, "Role") == {} and objects(docs, "RoleBinding") == {}
    (binding,) = objects(docs, "ClusterRoleBinding").values()
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": CLUSTER_ROLE}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{RELEASE}-devops", "namespace": NAMESPACE}]
    text = json.dumps(objects(docs, "ClusterRole")[CLUSTER_ROLE])
    assert "cluster-admin" not in json.dumps(docs) and '"*"' not in text
    assert not {"escalate", "impersonate"} & {v for _, _, verbs, _ in granted(docs) for v in verbs}
    # The one restricted rule names the role the provisioner really binds.
    assert [n for _, r, _, n in granted(docs) if r == "clusterroles"] == [(DEPLOY_CLUSTER_ROLE,)]
    # Installs that reach every cluster by kubeconfig can leave RBAC out entirely.
    off = render({"rbac": {"create": False}})
    assert not [d for d in off if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]


PIPELINE = """
stages:
  - name: Publish
    steps:
      - name: image
        publishImageConfig:
          tag: team/app:${CICD_GIT_BRANCH}
          preload:
            nodes: [node-1]
"""
DONE = json.dumps({"exit": 0, "started": 1, "ended": 2, "skipped": False})


def _calls(server: FakeKubernetes) -> set[tuple[str, str, str]]:
    """(verb, apiGroup, resource) of every resource request (``imagepulljobs.apps.kruise.io``,
    ``pods/log``); discovery documents are open to every authenticated client."""
    seen = set()
    for verb, counted in server.calls:
        if verb == "discovery":
            continue
        base, _, subresource = counted.partition("/")
        plural, _, group = base.partition(".")
        seen.add((verb, group, f"{plural}/{subresource}" if subresource else plural))
    return seen


@pytest.mark.django_db
def test_every_executor_call_is_permitted_and_every_permission_used(django_capture_on_commit_callbacks) -> None:
    with FakeKubernetes(custom_resources=(IMAGE_PULL_JOB,)) as server:
        project = ensure_project(f"rbac-{uuid.uuid4().hex[:8]}")
        project.cluster = Cluster.objects.create(name=project.name, kubeconfig=server.kubeconfig())
        project.namespaces = [f"{project.name}-dev", f"{project.name}-prod"]
        project.save()
        for namespace in project.namespaces:
            server.store.create("namespaces", {"metadata": {"name": namespace}})
        RegistryCredential.objects.create(project=project, registry="registry.example.com", username="ci",
                                          password="pw-1")  # fmt: skip
        secret = ProjectSecret.objects.create(project=project, name="codecov", data={"token": "tok-1"})
        pipeline, _ = ensure_pipeline(project, "app", "https://git.example.com/team/app.git")
        ns = names.namespace(project.name)
        kubelet.add_node(server.store, "node-1")
        server.reset_calls()

        def start() -> tuple[PipelineExecution, str]:
            execution = engine.create_execution(pipeline, parse_pipeline(PIPELINE),
                                                engine.TriggerInfo(branch="main", commit="e" * 40))  # fmt: skip
            engine.admit(project.pk)
            assert engine.start(execution.pk)
            pod = names.pod_name("app", execution.run)
            kubelet.bind(server.store, ns, pod, "node-1")
            return execution, pod

        # Provision the namespace and launch; a repeated start finds its pod and replaces its git secret.
        first, pod = start()
        assert engine.start(first.pk)
        # The pod ran: the sync reads it back, stores the logs, preloads the image, deletes the pod.
        for si in (0, 1):
            kubelet.set_container_state(server.store, ns, pod, names.container_name(si, 0), "terminated", 0,
                                        message=DONE)  # fmt: skip
        maintenance.sync_clusters()
        first.refresh_from_db()
        assert first.state == "Success" and server.store.list(IMAGE_PULL_JOB, ns), first.reason
        # Another one: its live log as the web reads it, then an abort (logs kept, pod deleted).
        second, pod = start()
        kubelet.set_container_state(server.store, ns, pod, names.container_name(0, 0), "running")
        server.store.append_log(ns, pod, names.container_name(0, 0), "cloning\n")
        assert executor_for(project).read_running_log(second, 0, 0) == b"cloning\n"
        with django_capture_on_commit_callbacks(execute=True):
            assert engine.abort(second.pk)
        assert not server.store.exists("pods", pod, ns)
        # Drift: the reconcile replaces a changed secret and runner script and unbinds a namespace gone.
        secret.data = {"token": "tok-2"}
        secret.save()
        project.namespaces = project.namespaces[:1]
        project.save()
        server.store.update("configmaps", RUNNER_CONFIG_MAP, lambda cm: cm["data"].update({"runner.sh": "x"}), ns)
        assert maintenance.reconcile_projects() == {"reconciled": 1}

        calls = _calls(server)
    docs = render()
    refused = sorted(call for call in calls if not allows(docs, call[1], call[2], call[0]))
    assert not refused, f"the chart's ClusterRole refuses calls the executor makes: {refused}"
    unused = sorted(
        (verb, group, resource)
        for group, resource, verbs, resource_names in granted(docs)
        for verb in verbs
        if not resource_names and (verb, group, resource) not in calls
    )
    assert not unused, f"the chart grants what the executor never called: {unused}"
