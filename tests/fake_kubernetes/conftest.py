"""Fixtures: a fake Kubernetes API server over HTTP and the REAL ``kubernetes`` client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from devops.testing.fake_kubernetes import FakeKubernetes


@pytest.fixture
def fake_k8s() -> Iterator[FakeKubernetes]:
    server = FakeKubernetes().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_client(fake_k8s: FakeKubernetes) -> Iterator[client.ApiClient]:
    api = client.ApiClient(client.Configuration(host=fake_k8s.url))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


def make_pod_body(name: str, labels: dict | None = None, containers: tuple[str, ...] = ("main",)) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": "busybox:1.36", "command": ["true"]} for c in containers]},
    }


@pytest.fixture
def pod_body():
    """``pod_body(name, labels=None, containers=("main",))`` -> a minimal pod manifest."""
    return make_pod_body
