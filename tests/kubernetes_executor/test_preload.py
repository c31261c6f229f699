"""publishImageConfig.preload: an OpenKruise ImagePullJob after the push, or a clear line when the
cluster has no OpenKruise; the execution succeeds either way."""

from __future__ import annotations

import json
import uuid

import pytest

from devops import engine
from devops.engine import maintenance
from devops.executors.kubernetes import names
from devops.logs import get_log_store
from devops.models import Cluster, StepRun
from devops.pipeline_config import parse_pipeline
from devops.services import ensure_pipeline, ensure_project
from devops.states import State
from devops.testing.fake_kubernetes import kubelet
from devops.testing.fake_kubernetes.resources import IMAGE_PULL_JOB
from devops.testing.fake_kubernetes.server import FakeKubernetes

pytestmark = pytest.mark.django_db

PIPELINE = """
stages:
  - name: Publish
    steps:
      - name: image
        publishImageConfig:
          tag: team/app:${CICD_GIT_BRANCH}
          preload:
            nodes: [node-1, node-2]
            parallelism: 2
"""


def run(custom_resources):
    with FakeKubernetes(custom_resources=custom_resources) as server:
        project = ensure_project(f"pre-{uuid.uuid4().hex[:8]}")
        project.cluster = Cluster.objects.create(name=project.name, kubeconfig=server.kubeconfig())
        project.save()
        pipeline, _ = ensure_pipeline(project, "app", "https://git.example.com/team/app.git")
        execution = engine.create_execution(pipeline, parse_pipeline(PIPELINE),
                                            engine.TriggerInfo(branch="main", commit="e" * 40))  # fmt: skip
        engine.admit(project.pk)
        assert engine.start(execution.pk)
        ns, pod = names.namespace(project.name), names.pod_name("app", execution.run)
        kubelet.add_node(server.store, "node-1")
        kubelet.bind(server.store, ns, pod, "node-1")
        done = json.dumps({"exit": 0, "started": 1, "ended": 2, "skipped": False})
        for si, sj in ((0, 0), (1, 0)):
            kubelet.set_container_state(server.store, ns, pod, names.container_name(si, sj), "terminated", 0,
                                        message=done)  # fmt: skip
        server.store.append_log(ns, pod, names.container_name(1, 0), "pushed\n")
        maintenance.sync_clusters()
        jobs = server.store.list(IMAGE_PULL_JOB, ns) if custom_resources else []
        execution.refresh_from_db()
        step = StepRun.objects.get(execution=execution, stage_index=1)
        return execution, jobs, get_log_store().read(step.log_key).decode(), project


def test_preload_creates_an_image_pull_job():
    execution, jobs, log, project = run((IMAGE_PULL_JOB,))
    assert execution.state == State.SUCCESS
    image = f"registry.{names.namespace(project.name)}.svc:5000/team/app:main"
    assert [j["spec"]["image"] for j in jobs] == [image]
    assert jobs[0]["spec"]["selector"] == {"names": ["node-1", "node-2"]}
    assert jobs[0]["spec"]["parallelism"] == 2
    assert jobs[0]["spec"]["pullSecrets"] == [names.REGISTRY_SECRET]
    assert log.startswith("pushed\n") and f"preload of {image}: ImagePullJob" in log


def test_without_openkruise_the_step_says_so_and_succeeds():
    execution, jobs, log, _ = run(())
    assert execution.state == State.SUCCESS
    assert "skipped: the cluster has no ImagePullJob (apps.kruise.io/v1alpha1); install OpenKruise" in log



def _strict(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_INT, _STR = {"type": "integer"}, {"type": "string"}
_STRINGS = {"type": "array", "items": _STR}
_NODE_SELECTOR = _strict({
    "matchLabels": {"type": "object", "additionalProperties": _STR},
    "matchExpressions": {"type": "array", "items": _strict(
        {"key": _STR, "operator": _STR, "values": _STRINGS}, ("key", "operator"))},
    "names": _STRINGS,
})  # fmt: skip
# apps.kruise.io/v1alpha1 ImagePullJob as OpenKruise's CRD defines it (openAPIV3Schema of spec), written
# out here with unknown fields forbidden at every level, as a strict validator would.
IMAGE_PULL_JOB_SCHEMA = _strict(
    {
        "apiVersion": {"const": "apps.kruise.io/v1alpha1"},
        "kind": {"const": "ImagePullJob"},
        "metadata": {"type": "object"},
        "spec": _strict(
            {
                "completionPolicy": _strict({"activeDeadlineSeconds": _INT, "ttlSecondsAfterFinished": _INT,
                                             "type": {"enum": ["Always", "Never"]}}),  # fmt: skip
                "image": _STR,
                "parallelism": {"type": ["integer", "string"]},
                "podSelector": _NODE_SELECTOR,
                "pullPolicy": _strict({"backoffLimit": _INT, "timeoutSeconds": _INT}),
                "pullSecrets": _STRINGS,
                "selector": _NODE_SELECTOR,
            },
            ("completionPolicy", "image"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


@pytest.mark.parametrize(
    "preload",
    ["nodes: [node-1]", "selector: {node-type: app}", "parallelism: 3"],
)
def test_image_pull_job_matches_the_openkruise_schema(preload):
    import jsonschema

    from devops.executors.kubernetes.preload import image_pull_job

    text = PIPELINE.replace("nodes: [node-1, node-2]\n            parallelism: 2", preload)
    step = parse_pipeline(text).stages[1].steps[0]
    job = image_pull_job(step, "registry.example.com/team/app:main", namespace="ns", labels={"a": "b"})
    jsonschema.validate(job, IMAGE_PULL_JOB_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict: a typo would be caught
        jsonschema.validate({**job, "spec": {**job["spec"], "pullSecret": ["x"]}}, IMAGE_PULL_JOB_SCHEMA)
