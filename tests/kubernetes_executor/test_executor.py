"""The Kubernetes executor through the engine, on the fake cluster: launch creates the pod once,
the periodic sync reads it back and remembers the node, abort keeps the logs and deletes the pod."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from kubernetes import client

from devops import engine
from devops.engine import maintenance
from devops.executors import executor_for
from devops.executors.kubernetes import names
from devops.executors.kubernetes.executor import KubernetesExecutor
from devops.logs import get_log_store
from devops.models import Cluster, PipelineExecution, SourceCodeCredential, StepRun
from devops.pipeline_config import parse_pipeline
from devops.selectors import read_step_log
from devops.services import ensure_pipeline, ensure_project
from devops.states import State
from devops.testing.fake_kubernetes import kubelet
from devops.testing.fake_kubernetes.server import FakeKubernetes

pytestmark = pytest.mark.django_db

PIPELINE = """
stages:
  - name: Test
    steps:
      - name: unit
        runScriptConfig: {image: golang:1.22, shellScript: go test ./...}
"""
TOKEN = "ghp_exampletoken123456"


@pytest.fixture
def world(django_user_model):
    with FakeKubernetes() as server:
        cluster = Cluster.objects.create(name="fake", kubeconfig=server.kubeconfig())
        # Logs are keyed by project name and the log store outlives the test database: be unique.
        project = ensure_project(f"kube-{uuid.uuid4().hex[:8]}")
        project.cluster = cluster
        project.save()
        pipeline, _ = ensure_pipeline(project, "app", "https://git.example.com/team/app.git")
        user = django_user_model.objects.create(username="dev")
        pipeline.credential = SourceCodeCredential.objects.create(user=user, provider="github", login="dev",
                                                                  access_token=TOKEN)  # fmt: skip
        pipeline.save()
        execution = engine.create_execution(
            pipeline, parse_pipeline(PIPELINE), engine.TriggerInfo(branch="main", commit="b" * 40)
        )
        engine.admit(project.pk)
        yield server, execution


def test_launch_sync_and_abort(world, django_capture_on_commit_callbacks):
    server, execution = world
    assert isinstance(executor_for(execution.project), KubernetesExecutor)
    assert engine.start(execution.pk)
    assert engine.start(execution.pk)  # a repeated start finds its pod: still one pod
    ns, pod = names.namespace(execution.project.name), names.pod_name("app", execution.run)
    pods = server.store.list("pods", ns)
    assert [p["metadata"]["name"] for p in pods] == [pod]
    assert pods[0]["metadata"]["labels"][names.LABEL_EXECUTION] == execution.execution_id
    # The git token reaches the pod only through its Secret.
    assert TOKEN not in json.dumps(pods[0])
    secret = client.CoreV1Api(server.api_client()).read_namespaced_secret(names.git_secret("app"), ns)
    header = base64.b64decode(secret.data["GIT_CONFIG_VALUE_0"]).decode()
    assert header.startswith("Authorization: Basic ")
    assert base64.b64decode(header.split()[-1]).decode() == f"x-access-token:{TOKEN}"

    kubelet.add_node(server.store, "node-3")
    kubelet.bind(server.store, ns, pod, "node-3")
    kubelet.set_container_state(server.store, ns, pod, names.container_name(0, 0), "running")
    server.store.append_log(ns, pod, names.container_name(0, 0), f"cloning with {TOKEN}\n")
    assert maintenance.sync_clusters() == {"synced": 1}
    execution.refresh_from_db()
    assert execution.state == State.BUILDING and execution.node == "node-3"
    assert execution.pipeline.scheduled_nodes == ["node-3"]

    # While it runs, the pod's log is the live log: masked, and a secret still being printed is held back.
    server.store.append_log(ns, pod, names.container_name(0, 0), f"again {TOKEN[:8]}")
    step = StepRun.objects.get(execution=execution, stage_index=0)
    live = read_step_log(step)
    assert not live.complete and live.data == b"cloning with ********\nagain "
    assert read_step_log(step, offset=6).data == b"g with ********\nagain "

    with django_capture_on_commit_callbacks(execute=True):
        assert engine.abort(execution.pk, "aborted by user")
    assert not server.store.exists("pods", pod, ns)
    clone = StepRun.objects.get(execution=execution, stage_index=0)
    assert get_log_store().read(clone.log_key) == f"cloning with ********\nagain {TOKEN[:8]}".encode()
    assert PipelineExecution.objects.get(pk=execution.pk).state == State.ABORTED
