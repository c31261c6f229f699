"""Rendering the Helm chart under deploy/helm/devops with Helm's own Go SDK (helm-python-sdk bundles
libhelm_c, a C ABI over helm.sh/helm/v4), offline, and walking what it rendered.

A module of its own, not conftest: test folders' conftest modules shadow each other when imported by name.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
CHART_DIR = BASE_DIR / "deploy" / "helm" / "devops"
PRODUCTION_VALUES = CHART_DIR / "values-production.yaml"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas we have.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
RELEASE, NAMESPACE = "ci", "devops"

# What the service reads from the environment that is a secret (config/settings.py).
SECRET_VARIABLES = frozenset(
    {"SECRET_KEY", "FERNET_KEYS", "METRICS_TOKEN", "DATABASE_URL", "CELERY_BROKER_URL", "LIVE_LOG",
     "S3_ACCESS_KEY", "S3_SECRET_KEY"}
)  # fmt: skip
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


@functools.cache
def _chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_VALUES.read_text())


def render_files(values: dict[str, Any] | None = None, *, revision: int = 1) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would produce it."""
    return _chart().render(values or {}, name=RELEASE, namespace=NAMESPACE, revision=revision, is_install=True)


def render(values: dict[str, Any] | None = None, *, revision: int = 1) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders with ``values`` (over values.yaml)."""
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render_files(values, revision=revision).items()):
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def objects(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """name -> object, of one kind."""
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = objects(docs, kind)
    assert name in found, f"no {kind} {name}; there are {sorted(found)}"
    return found[name]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(docs: list[dict[str, Any]], *, init: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``Kind/name/container``, container) of every workload's pod template."""
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            for container in pod_spec(doc).get("initContainers" if init else "containers") or []:
                yield f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}", container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env") or []}


def queues_of(container: dict[str, Any]) -> list[str] | None:
    """The queues a ``celery worker`` container consumes (-Q), None when it is no worker."""
    command = container.get("args") or []
    if command[:1] != ["celery"] or "worker" not in command:
        return None
    return command[command.index("-Q") + 1].split(",")
