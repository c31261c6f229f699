"""A Cluster record becomes an API client; a broken one says what is wrong without echoing secrets."""

from __future__ import annotations

import pytest
from django.db import connection
from kubernetes import client

from devops.executors.kubernetes.cluster import ClusterConfigError, api_client
from devops.models import Cluster
from devops.testing.fake_kubernetes.server import FakeKubernetes, kubeconfig_for

pytestmark = pytest.mark.django_db


def test_stored_kubeconfig_reaches_the_cluster():
    with FakeKubernetes() as server:
        cluster = Cluster.objects.create(name="fake", kubeconfig=server.kubeconfig("s3cr3t-token"))
        cluster.refresh_from_db()
        with connection.cursor() as cursor:  # encrypted at rest
            cursor.execute("SELECT kubeconfig FROM devops_cluster WHERE id = %s", [cluster.pk])
            assert "s3cr3t-token" not in cursor.fetchone()[0]
        api = api_client(cluster)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "probe"}})
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert "probe" in names


WRONG_CONTEXT = kubeconfig_for("https://example.invalid", "s3cr3t-token").replace(
    '"current-context": "ci"', '"current-context": "x"'
)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("", "no kubeconfig stored"),
        ("clusters: [unclosed", "not valid YAML"),
        (WRONG_CONTEXT, "the kubeconfig cannot be used"),
    ],
)
def test_broken_kubeconfig_is_named_not_echoed(stored, message):
    cluster = Cluster.objects.create(name="broken", kubeconfig=stored)
    with pytest.raises(ClusterConfigError) as info:
        api_client(cluster)
    assert message in str(info.value) and "broken" in str(info.value)
    assert "s3cr3t-token" not in str(info.value)


def test_in_cluster_outside_a_cluster_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cluster = Cluster.objects.create(name="incluster", in_cluster=True)
    with pytest.raises(ClusterConfigError, match="not running inside a cluster"):
        api_client(cluster)
