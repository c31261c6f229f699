"""Hostile branch names on the Kubernetes executor: in the pod manifest the name is only ever an env
value (with Kubernetes' ``$`` escaped), never part of a command, an argument or a script; and run for
real on the fake cluster, whose kubelet executes every container (runner script, clone, step) as
local processes, each name reaches the step verbatim and no sentinel file appears.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hostile_refs import PIPELINE, expected_lines, hostile_names, hostile_repo

from devops import engine
from devops.engine import maintenance
from devops.executors.kubernetes.pod import PodIdentity, build_pod, escape
from devops.logs import get_log_store
from devops.models import Cluster, PipelineExecution
from devops.pipeline_config import parse_pipeline
from devops.project_settings import SETTINGS
from devops.states import FINAL_STATES, State
from devops.testing.fake_kubernetes.process_kubelet import ProcessKubelet
from devops.testing.fake_kubernetes.server import FakeKubernetes
from devops.triggers import trigger_pipeline

pytestmark = pytest.mark.django_db


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a manifest with where it is (``spec.containers[1].env[3].value``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def test_the_manifest_holds_a_hostile_branch_only_as_env_values(tmp_path: Path) -> None:
    names = hostile_names(tmp_path)
    text = PIPELINE.replace("        env:", "        cache: {paths: [.cache, ~/.m2]}\n        env:")
    spec = parse_pipeline(text)
    settings = {key: d.default() for key, d in SETTINGS.items()} | {"cache-root": "/var/lib/devops/cache"}
    for label, name in names.items():
        identity = PodIdentity(
            project="team", pipeline="app", execution_id="7-1", run=1,
            repository_url="https://git.example.com/team/app.git", commit="0" * 40, branch=name,
        )  # fmt: skip
        variables = {"CICD_GIT_BRANCH": name, "CICD_GIT_REF": f"refs/heads/{name}", "CICD_EVENT": "push"}
        manifest = build_pod(spec, identity, variables=variables, settings=settings)
        escaped = escape(name)
        places = sorted(path for path, value in strings(manifest) if name in value or escaped in value)
        assert places, label
        for path in places:
            assert path.startswith("spec.containers[") and path.endswith(".value"), (label, path)
        env_values = [
            item["value"] for container in manifest["spec"]["containers"] for item in container["env"]
            if escaped in item.get("value", "")
        ]  # fmt: skip
        assert set(env_values) == {escaped, f"refs/heads/{escaped}"}, label  # the whole value, nothing spliced
        assert label != "semicolon" or len(env_values) == 6  # clone: branch, ref, DEVOPS_GIT_BRANCH; step: 3


SETTINGS_VALUES = {key: d.default() for key, d in SETTINGS.items()} | {"cache-root": "/var/lib/devops/cache"}
IDENTITY = PodIdentity(project="team", pipeline="app", execution_id="7-1", run=1, repository_url="u", commit="0" * 40)


def cache_pod(*paths: str) -> dict[str, Any]:
    listed = ", ".join(f"'{path}'" for path in paths)
    text = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"
    spec = parse_pipeline(text + f"        cache: {{paths: [{listed}]}}\n")
    return build_pod(spec, IDENTITY, variables={}, settings=SETTINGS_VALUES)


def test_cache_volumes_stay_under_the_pipelines_cache_directory_on_the_node() -> None:
    paths = [".cache", "~/.m2", "$HOME/.npm", "/root/.cache", "/etc", "/usr/local/share/x", "a/./b//c/", "~"]
    manifest = cache_pod(*paths)
    volumes = [v for v in manifest["spec"]["volumes"] if v["name"].startswith("cache-")]
    assert len(volumes) == len(paths)
    for volume in volumes:
        assert re.fullmatch(r"/var/lib/devops/cache/team/app/[0-9a-f]{16}", volume["hostPath"]["path"]), volume
    mounts = [m["mountPath"] for m in manifest["spec"]["containers"][1]["volumeMounts"]][2:]
    assert mounts == [
        "/workspace/.cache", "/root/.m2", "/root/.npm", "/root/.cache", "/etc", "/usr/local/share/x",
        "/workspace/a/b/c", "/workspace/~",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [".", "./", "/", "/workspace", "/devops", "/devops/markers", "/devops-cache/x", "/devops-runner",
     "/kaniko/.docker", "/var/run/secrets/kubernetes.io/serviceaccount"],
)  # fmt: skip
def test_a_cache_over_the_pods_own_directories_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match=f"^cache path '{re.escape(path)}' would be mounted at /"):
        cache_pod(path)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SimpleNamespace]:
    with FakeKubernetes() as server:
        kubelet = ProcessKubelet(server, "node-1", tmp_path / "kubelet").start()
        try:
            record = Cluster.objects.create(name="fake", kubeconfig=server.kubeconfig())
            yield SimpleNamespace(server=server, record=record)
        finally:
            kubelet.stop()


def test_hostile_branches_run_as_data_on_the_fake_cluster(make_repo, make_pipeline, cluster, tmp_path, h):
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    repo, names, shas = hostile_repo(make_repo, sentinels)
    pipeline = make_pipeline(repo, quota=0)
    pipeline.project.cluster = cluster.record
    pipeline.project.save()
    executions = {label: trigger_pipeline(pipeline, branch=name) for label, name in names.items()}
    engine.admit(pipeline.project_id)
    for execution in executions.values():
        assert engine.start(execution.pk), PipelineExecution.objects.get(pk=execution.pk).reason

    deadline = time.monotonic() + 60
    while PipelineExecution.objects.filter(pk__in=[e.pk for e in executions.values()]).exclude(state__in=FINAL_STATES):
        assert time.monotonic() < deadline, "\n".join(h.describe(e.pk) for e in executions.values())
        maintenance.sync_clusters()
        time.sleep(0.1)

    store = get_log_store()
    for label, execution in executions.items():
        execution.refresh_from_db()
        assert execution.state == State.SUCCESS, h.describe(execution.pk)
        log = store.read(h.steps_of(execution.pk)["show"].log_key).decode()
        name = names[label]
        for line in expected_lines(branch=name, tag="", ref=f"refs/heads/{name}", sha=shas[label], checkout=name):
            assert line in log.splitlines(), f"{label}: {line!r} not in\n{log}"
        listing = next(line for line in log.splitlines() if line.startswith("workspace=["))
        assert "relative-pwned" not in listing and f"{label}.txt" in listing, listing  # the pod's workspace
    assert list(sentinels.iterdir()) == []
    for _root, dirs, files in os.walk(tmp_path / "kubelet"):  # pods are being deleted meanwhile: no errors
        assert "relative-pwned" not in dirs + files


def test_a_cache_over_the_runner_markers_fails_the_launch_with_the_reason(make_repo, make_pipeline, cluster, h):
    """Markers in a node's cache would tell the next execution's steps that earlier steps had ended."""
    text = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"
    pipeline = make_pipeline(make_repo(text + "        cache: {paths: [/devops/markers]}\n"))
    pipeline.project.cluster = cluster.record
    pipeline.project.save()
    execution = trigger_pipeline(pipeline, branch="main")
    engine.admit(pipeline.project_id)
    assert not engine.start(execution.pk)
    execution.refresh_from_db()
    assert execution.state == State.FAILED
    assert execution.reason == (
        "could not launch: cache path '/devops/markers' would be mounted at /devops/markers, which the executor"
        " uses itself; cache a directory inside the workspace, under ~/ or elsewhere"
    )
    assert cluster.server.store.list("pods") == []
