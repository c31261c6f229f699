"""The sync on the fake cluster: pod states become step and execution states, logs are stored (masked)
before the pod is deleted, and a tick costs one list call per namespace."""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client

from devops import engine
from devops.executors.environment import base_variables
from devops.executors.kubernetes import names
from devops.executors.kubernetes.pod import PodIdentity, build_pod
from devops.executors.kubernetes.provision import provision
from devops.executors.kubernetes.sync import PodSync
from devops.logs import get_log_store
from devops.models import PipelineExecution, StepRun
from devops.pipeline_config import parse_pipeline
from devops.selectors import project_settings
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
      - name: lint
        runScriptConfig: {image: golang:1.22, shellScript: go vet ./...}
  - name: Publish
    steps:
      - name: notify
        runScriptConfig: {image: alpine, shellScript: echo done}
"""
SECRET = "hunter2-very-secret"


def message(code: int, skipped: bool = False) -> str:
    return json.dumps({"exit": code, "started": 1.0, "ended": 2.0, "skipped": skipped})


@pytest.fixture
def world(tmp_path):
    with FakeKubernetes() as server:
        project = ensure_project(f"sync-{uuid.uuid4().hex[:8]}")  # the log store outlives the test database
        pipeline, _ = ensure_pipeline(project, "app", str(tmp_path))
        spec = parse_pipeline(PIPELINE)
        execution = engine.create_execution(pipeline, spec, engine.TriggerInfo(branch="main", commit="a" * 40))
        engine.admit(project.pk)
        execution.refresh_from_db()
        api = server.api_client()
        provision(api, project)
        identity = PodIdentity(project.name, pipeline.name, execution.execution_id, execution.run,
                               str(tmp_path), execution.commit, branch="main")  # fmt: skip
        manifest = build_pod(spec, identity, variables=base_variables(execution, project_settings(project)),
                             settings=project_settings(project))  # fmt: skip
        client.CoreV1Api(api).create_namespaced_pod(identity.namespace, manifest)
        kubelet.add_node(server.store, "node-7")
        kubelet.bind(server.store, identity.namespace, identity.pod_name, "node-7")
        yield server, api, execution, identity


def states(execution: PipelineExecution) -> dict[str, str]:
    return {s.name: s.state for s in StepRun.objects.filter(execution=execution)}


def tick(api, execution, secrets=()) -> PodSync:
    sync = PodSync(api, store=get_log_store(), secrets_for=lambda e: set(secrets))
    sync.tick([PipelineExecution.objects.select_related("project").get(pk=execution.pk)])
    return sync


def test_a_failing_step_fails_the_execution_after_its_logs_are_stored(world):
    server, api, execution, pod = world
    ns, name, store = pod.namespace, pod.pod_name, server.store
    kubelet.set_container_state(store, ns, name, names.container_name(0, 0), "terminated", 0, message=message(0))
    store.append_log(ns, name, names.container_name(0, 0), "cloned\n")
    kubelet.set_container_state(store, ns, name, names.container_name(1, 0), "running")
    store.append_log(ns, name, names.container_name(1, 0), f"token is {SECRET}\n")
    kubelet.set_container_state(store, ns, name, names.container_name(1, 1), "running")

    server.reset_calls()
    sync = tick(api, execution, [SECRET])
    assert server.count("list", "pods") == 1 and sync.stats.list_calls == 1
    execution.refresh_from_db()
    assert execution.state == State.BUILDING and execution.node == "node-7"
    assert states(execution) == {"clone": State.SUCCESS, "unit": State.BUILDING, "lint": State.BUILDING,
                                 "notify": State.WAITING}  # fmt: skip

    kubelet.set_container_state(store, ns, name, names.container_name(1, 0), "terminated", 3, message=message(3))
    tick(api, execution, [SECRET])
    execution.refresh_from_db()
    assert execution.state == State.FAILED
    assert execution.reason == "step 1-0: exit code 3"
    assert states(execution) == {"clone": State.SUCCESS, "unit": State.FAILED, "lint": State.ABORTED,
                                 "notify": State.SKIPPED}  # fmt: skip
    logs = get_log_store()
    unit = StepRun.objects.get(execution=execution, name="unit")
    assert unit.exit_code == 3
    assert logs.read(unit.log_key) == b"token is ********\n"
    clone = StepRun.objects.get(execution=execution, name="clone")
    assert logs.read(clone.log_key) == b"cloned\n"
    # The running sibling's output was kept too, and only then was the pod deleted.
    lint = StepRun.objects.get(execution=execution, name="lint")
    assert logs.size(lint.log_key) == 0
    assert not store.exists("pods", name, ns)


def test_success_and_a_repeated_tick_changes_nothing(world):
    server, api, execution, pod = world
    ns, name, store = pod.namespace, pod.pod_name, server.store
    for si, sj in ((0, 0), (1, 0), (1, 1), (2, 0)):
        kubelet.set_container_state(store, ns, name, names.container_name(si, sj), "terminated", 0, message=message(0))
    tick(api, execution)
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS
    assert set(states(execution).values()) == {State.SUCCESS}
    assert execution.pipeline.last_run_state == State.SUCCESS
    tick(api, execution)  # the pod is gone now and the execution final: nothing to do
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS


def test_a_vanished_pod_fails_a_building_execution(world):
    server, api, execution, pod = world
    kubelet.set_container_state(server.store, pod.namespace, pod.pod_name, names.container_name(0, 0), "running")
    tick(api, execution)
    client.CoreV1Api(api).delete_namespaced_pod(pod.pod_name, pod.namespace)
    tick(api, execution)
    execution.refresh_from_db()
    assert execution.state == State.FAILED and execution.reason == "the execution's pod disappeared"
