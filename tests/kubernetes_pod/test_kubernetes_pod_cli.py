"""``runpipeline --print-manifest`` on a real git repository, and the init container's install step."""

from __future__ import annotations

import io
import json
import os
import subprocess

import kubernetes_validate
import pytest
import yaml
from django.core.management import call_command
from pod_support import K8S_VERSIONS, validate

from devops.executors.kubernetes.runner_script import RUNNER_SCRIPT
from devops.models import PipelineExecution, Project
from devops.services import ensure_pipeline, ensure_project, set_project_setting

PIPELINE = """
stages:
  - name: Test
    steps:
      - runScriptConfig: {image: "python:3.12", shellScript: "echo $(python -V) ${CICD_GIT_BRANCH}"}
        envFrom: [{sourceName: codecov, sourceKey: token, targetKey: CODECOV_TOKEN}]
        cache: {paths: [/root/.cache/pip]}
  - name: Only on tags
    when: {event: tag}
    steps:
      - runScriptConfig: {image: alpine, shellScript: "echo tag"}
"""


def print_manifest(repo, *args: str) -> dict:
    out = io.StringIO()
    call_command("runpipeline", str(repo), "--print-manifest", *args, stdout=out)
    manifest = yaml.safe_load(out.getvalue())
    validate(manifest)
    return manifest


@pytest.mark.django_db
def test_print_manifest_for_a_repository_without_creating_anything(make_repo):
    repo = make_repo(PIPELINE, name="svc")
    manifest = print_manifest(repo)
    assert manifest["metadata"]["name"] == "svc-1"
    assert manifest["metadata"]["namespace"] == "default-pipeline"
    steps = [c["name"] for c in manifest["spec"]["containers"]]
    assert steps == ["step-0-0", "step-1-0", "cache-keeper"]  # the tag-only stage is skipped on a manual run
    clone = manifest["spec"]["containers"][0]
    sha = repo.head()
    assert {"name": "DEVOPS_GIT_SHA", "value": sha} in clone["env"]
    assert not PipelineExecution.objects.exists()
    assert not Project.objects.exists()


@pytest.mark.django_db
def test_print_manifest_uses_the_stored_project_settings_and_nodes(make_repo, tmp_path):
    repo = make_repo(PIPELINE, name="svc")
    project = ensure_project("team")
    pipeline, _ = ensure_pipeline(project, "svc", str(repo))
    pipeline.scheduled_nodes = ["node-b", "node-a", "node-b"]
    pipeline.save(update_fields=["scheduled_nodes"])
    set_project_setting(project, "cache-root", str(tmp_path / "cache"))
    manifest = print_manifest(repo, "--project", "team", "--pipeline", "svc")
    terms = manifest["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(t["weight"], t["preference"]["matchExpressions"][0]["values"]) for t in terms] == [
        (100, ["node-b"]),
        (90, ["node-a"]),
    ]
    assert str(tmp_path / "cache") in json.dumps(manifest)
    set_project_setting(project, "serverless", "on")
    manifest = print_manifest(repo, "--project", "team", "--pipeline", "svc")
    assert manifest["spec"]["nodeSelector"] == {"type": "virtual-kubelet"}
    assert "hostPath" not in json.dumps(manifest)
    assert not PipelineExecution.objects.exists()


@pytest.mark.django_db
def test_print_manifest_rejects_an_invalid_pipeline_file(make_repo):
    repo = make_repo("stages: [{name: X}]\n", name="bad")
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("runpipeline", str(repo), "--print-manifest", stderr=err)
    assert exc.value.code == 2
    assert ".devops.yml" in err.getvalue()


def test_the_init_container_installs_exactly_the_runner_script(pod, tmp_path):
    init = pod("stages:\n- name: S\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: 'true'}\n")
    init = init["spec"]["initContainers"][0]
    env = {e["name"]: e["value"].replace("$$", "$") for e in init["env"]}  # what the kubelet expands
    source = tmp_path / "configmap"  # the ConfigMap volume provisioning fills
    source.mkdir()
    (source / "runner.sh").write_text(RUNNER_SCRIPT)
    env["DEVOPS_RUNNER_ROOT"], env["DEVOPS_RUNNER_SOURCE"] = str(tmp_path), str(source)
    command = [part.replace("$$", "$") for part in init["command"]]
    subprocess.run(command, env={**os.environ, **env}, check=True)
    assert (tmp_path / "runner.sh").read_text() == RUNNER_SCRIPT
    assert (tmp_path / "markers").is_dir()
    # A ConfigMap of another version is refused instead of run.
    (source / "runner.sh").write_text(RUNNER_SCRIPT + "# changed\n")
    failed = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "not the one this pod was built for" in failed.stderr


def test_strict_validation_is_really_strict():
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [
        {"name": "x", "image": "alpine", "unknownField": True}
    ]}}
    for version in K8S_VERSIONS:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, version, strict=True)
