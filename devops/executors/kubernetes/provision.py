"""Provision a project's pipeline namespace: idempotent, safe to repeat, reconciled periodically.

``<project>-pipeline`` gets the ``pipeline`` service account, the registry-auth and project-secret
Secrets, the built-in registry (Deployment + Service) and, in each of the project's own namespaces, a
RoleBinding that lets that service account deploy there and nowhere else. Objects are created when
missing; Secrets are replaced when their data changed; RoleBindings for namespaces that left the project
are deleted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devops.models import Project, ProjectSecret, RegistryCredential
from devops.ops.metrics import count_api_error

from . import names
from .runner_script import RUNNER_CONFIG_MAP, RUNNER_SCRIPT

REGISTRY_NAME = "registry"
REGISTRY_PORT = 5000
ROLE_BINDING = "devops-pipeline-deployer"
# The built-in aggregated role: workloads, services, config; not RBAC, not namespaces, not quotas.
DEPLOY_CLUSTER_ROLE = "edit"


@dataclass
class ProvisionResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # Problems that do not stop provisioning, in words for the operator (e.g. a namespace that is missing).
    warnings: list[str] = field(default_factory=list)
    # Every object this run would create, for schema validation.
    manifests: list[dict[str, Any]] = field(default_factory=list)


def _b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


class Provisioner:
    def __init__(self, api: client.ApiClient, project: Project, *, registry_image: str = "registry:2"):
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.project = project
        self.namespace = names.namespace(project.name)
        self.registry_image = registry_image
        self.labels = {names.LABEL_PROJECT: names.label_value(project.name), "app.kubernetes.io/managed-by": "devops"}
        self.result = ProvisionResult()

    def run(self) -> ProvisionResult:
        namespace = self._meta_body("v1", "Namespace", self.namespace, namespaced=False)
        self._create("namespace", lambda: self.core.create_namespace(namespace))
        account = self._meta_body("v1", "ServiceAccount", names.SERVICE_ACCOUNT)
        self._create("serviceaccount", lambda: self.core.create_namespaced_service_account(self.namespace, account))
        self._apply_secret(names.REGISTRY_SECRET, "kubernetes.io/dockerconfigjson",
                           {".dockerconfigjson": self._docker_config()})  # fmt: skip
        self._runner_script()
        for secret in ProjectSecret.objects.filter(project=self.project):
            data = {names.secret_key(k): str(v) for k, v in (secret.data or {}).items()}
            self._apply_secret(names.env_secret(secret.name), "Opaque", data)
        self._registry()
        self._role_bindings()
        return self.result

    # --- helpers ------------------------------------------------------------------------------------
    def _meta_body(self, api_version: str, kind: str, name: str, *, namespaced: bool = True,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
        metadata: dict[str, Any] = {"name": name, "labels": dict(self.labels)}
        if namespaced:
            metadata["namespace"] = self.namespace
        body = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **extra}
        self.result.manifests.append(body)
        return body

    def _create(self, what: str, create: Callable[[], Any]) -> bool:
        try:
            create()
        except ApiException as exc:
            count_api_error("create_" + what.split("/")[0], exc)
            if exc.status == 409:
                return False
            raise
        self.result.created.append(what)
        return True

    def _apply_secret(self, name: str, kind: str, data: dict[str, str]) -> None:
        encoded = {key: _b64(value) for key, value in data.items()}
        body = self._meta_body("v1", "Secret", name, type=kind, data=encoded)
        if self._create(f"secret/{name}", lambda: self.core.create_namespaced_secret(self.namespace, body)):
            return
        current = self.core.read_namespaced_secret(name, self.namespace)
        if (current.data or {}) != encoded or current.type != kind:
            self.core.replace_namespaced_secret(name, self.namespace, body)
            self.result.updated.append(f"secret/{name}")

    def _runner_script(self) -> None:
        data = {"runner.sh": RUNNER_SCRIPT}
        body = self._meta_body("v1", "ConfigMap", RUNNER_CONFIG_MAP, data=data)
        if self._create(f"configmap/{RUNNER_CONFIG_MAP}",
                        lambda: self.core.create_namespaced_config_map(self.namespace, body)):  # fmt: skip
            return
        current = self.core.read_namespaced_config_map(RUNNER_CONFIG_MAP, self.namespace)
        if (current.data or {}) != data:
            self.core.replace_namespaced_config_map(RUNNER_CONFIG_MAP, self.namespace, body)
            self.result.updated.append(f"configmap/{RUNNER_CONFIG_MAP}")

    def _docker_config(self) -> str:
        auths: dict[str, dict[str, str]] = {}
        for cred in RegistryCredential.objects.filter(project=self.project):
            auths[cred.registry] = {"auth": _b64(f"{cred.username}:{cred.password}")}
        return json.dumps({"auths": auths}, sort_keys=True)

    def _registry(self) -> None:
        labels = {**self.labels, "app": REGISTRY_NAME}
        container = {
            "name": REGISTRY_NAME,
            "image": self.registry_image,
            "ports": [{"containerPort": REGISTRY_PORT}],
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}],
            "readinessProbe": {"httpGet": {"path": "/v2/", "port": REGISTRY_PORT}},
            "livenessProbe": {"httpGet": {"path": "/v2/", "port": REGISTRY_PORT}, "periodSeconds": 30},
            "securityContext": {"allowPrivilegeEscalation": False},
        }
        deployment = self._meta_body(
            "apps/v1",
            "Deployment",
            REGISTRY_NAME,
            spec={
                "replicas": 1,
                "selector": {"matchLabels": {"app": REGISTRY_NAME}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container], "volumes": [{"name": "data", "emptyDir": {}}]},
                },
            },
        )
        self._create("deployment/registry", lambda: self.apps.create_namespaced_deployment(self.namespace, deployment))
        service = self._meta_body(
            "v1",
            "Service",
            REGISTRY_NAME,
            spec={"selector": {"app": REGISTRY_NAME}, "ports": [{"port": REGISTRY_PORT, "targetPort": REGISTRY_PORT}]},
        )
        self._create("service/registry", lambda: self.core.create_namespaced_service(self.namespace, service))

    def _role_bindings(self) -> None:
        wanted = set(self.project.namespaces or [])
        for namespace in sorted(wanted):
            body = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": ROLE_BINDING, "namespace": namespace, "labels": dict(self.labels)},
                "subjects": [{"kind": "ServiceAccount", "name": names.SERVICE_ACCOUNT, "namespace": self.namespace}],
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": DEPLOY_CLUSTER_ROLE,
                },
            }
            self.result.manifests.append(body)
            try:
                self._create(
                    f"rolebinding/{namespace}",
                    lambda b=body, ns=namespace: self.rbac.create_namespaced_role_binding(ns, b),
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.result.warnings.append(
                    f"namespace {namespace} does not exist: pipelines cannot deploy there until it is created"
                )
        selector = f"{names.LABEL_PROJECT}={self.labels[names.LABEL_PROJECT]}"
        existing = self.rbac.list_role_binding_for_all_namespaces(label_selector=selector)
        for binding in existing.items:
            namespace = binding.metadata.namespace
            if binding.metadata.name == ROLE_BINDING and namespace not in wanted:
                self.rbac.delete_namespaced_role_binding(ROLE_BINDING, namespace)
                self.result.deleted.append(f"rolebinding/{namespace}")


def provision(api: client.ApiClient, project: Project, *, registry_image: str = "registry:2") -> ProvisionResult:
    return Provisioner(api, project, registry_image=registry_image).run()
