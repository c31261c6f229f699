"""The pod of an execution: valid for the API (strict, 1.29 and newest), and shaped as the design says."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from pod_support import default_settings

from devops.executors.kubernetes import names
from devops.executors.kubernetes.pod import IMAGE_CACHE_ANNOTATION
from devops.executors.kubernetes.resources import parse_quantity

# The spec's big example (spec/pipeline-file.md), without `template:` (that needs a stored template).
BIG_EXAMPLE = """
timeout: 60
branch:
  include: [main, "release/*"]
  exclude: ["wip/*"]
notification:
  recipients: [{recipient: "#builds", notifier: slack}]
  condition: [Failed, Changed]
  message: "${CICD_GIT_REPO_NAME} ${CICD_GIT_BRANCH}: build finished"
stages:
  - name: Test
    when:
      branch: main
      event: [push, pull_request, tag, manual, image, cron]
    steps:
      - runScriptConfig:
          image: golang:1.22
          shellScript: |
            go vet ./...
            go test ./...
        env: {CGO_ENABLED: "0"}
        envFrom:
          - {sourceName: codecov, sourceKey: token, targetKey: CODECOV_TOKEN}
        cache:
          paths: [/root/.cache/go-build, /go/pkg/mod]
        timeout: 10
        cpuRequest: 500m
        cpuLimit: "2"
        memoryRequest: 256Mi
        memoryLimit: 1Gi
        when: {event: push}
  - name: Publish
    cache: {paths: [/cache]}
    steps:
      - publishImageConfig:
          dockerfilePath: ./Dockerfile
          buildContext: .
          tag: myorg/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}
          pushRemote: true
          registry: registry.example.com
          preload:
            nodes: [node-1, node-2]
            parallelism: 10
  - name: Deploy
    steps:
      - applyYamlConfig:
          path: ./deploy/app.yaml
          namespace: production
      - applyAppConfig:
          chart: app
          repo: https://charts.example.com
          version: 1.4.2
          name: app
          targetNamespace: production
          values: {image.tag: "${CICD_GIT_COMMIT}"}
"""

SIMPLE = """
stages:
  - name: Build
    steps:
      - runScriptConfig: {image: "alpine:3.20", shellScript: "echo hi"}
        cache: {paths: [/root/.npm, node_modules]}
      - runScriptConfig: {image: "alpine:3.20", shellScript: "echo there"}
        cache: {paths: [/root/.npm]}
"""

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def containers(manifest):
    return {c["name"]: c for c in manifest["spec"]["containers"]}


def unescape(text: str) -> str:
    return text.replace("$$", "$")


def test_big_example_builds_a_valid_pod_with_one_container_per_step(pod):
    manifest = pod(BIG_EXAMPLE)
    spec = manifest["spec"]
    assert manifest["apiVersion"] == "v1" and manifest["kind"] == "Pod"
    assert list(containers(manifest)) == ["step-0-0", "step-1-0", "step-2-0", "step-3-0", "step-3-1", "cache-keeper"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "pipeline"
    assert spec["activeDeadlineSeconds"] == 3600
    assert [c["name"] for c in spec["initContainers"]] == ["install-runner"]
    by_name = containers(manifest)
    clone, test, publish, apply_yaml, helm, keeper = by_name.values()
    # The keeper locks every cache of the pod, in sorted order, and waits for every step.
    cache_volumes = sorted(v["name"] for v in spec["volumes"] if v["name"].startswith("cache-"))
    keeper_env = {e["name"]: e["value"] for e in keeper["env"]}
    assert keeper_env["DEVOPS_CACHE_DIRS"].split() == [f"/devops-cache/{v}" for v in cache_volumes]
    assert keeper_env["DEVOPS_STEP_IDS"].split() == ["0-0", "1-0", "2-0", "3-0", "3-1"]
    assert {"name": "DEVOPS_WAIT_CACHES", "value": "1"} in test["env"]
    assert clone["image"] == "alpine/git:2.45.2"
    assert test["image"] == "golang:1.22"
    assert publish["image"] == "gcr.io/kaniko-project/executor:v1.23.2-debug"
    assert apply_yaml["image"] == "alpine/k8s:1.29.4" and helm["image"] == "alpine/helm:3.14.4"
    for c in spec["containers"][:-1]:  # the steps (the cache keeper works in /devops)
        assert c["workingDir"] == "/workspace"
        assert {"name": "workspace", "mountPath": "/workspace"} in c["volumeMounts"]
        assert c["args"][0] == "/devops/runner.sh"
    assert {"name": "workspace", "emptyDir": {}} in spec["volumes"]
    # stages wait for the previous stage with containers; siblings of the Deploy stage know each other
    assert test["args"][1:6] == ["1", "0", "0-0", "-", "--"]
    assert publish["args"][1:6] == ["2", "0", "1-0", "-", "--"]
    assert apply_yaml["args"][1:6] == ["3", "0", "2-0", "3-1", "--"]
    assert helm["args"][1:6] == ["3", "1", "2-0", "3-0", "--"]
    env = {e["name"]: e for e in test["env"]}
    assert env["CGO_ENABLED"]["value"] == "0" and env["DEVOPS_TIMEOUT"]["value"] == "600"
    assert env["CICD_GIT_BRANCH"]["value"] == "main"


def test_kaniko_step_builds_with_cache_and_registry_auth(pod):
    manifest = pod(BIG_EXAMPLE)
    publish = containers(manifest)["step-2-0"]
    assert publish["command"] == ["/busybox/sh"]
    argv = publish["args"][6:]
    assert argv[0] == "/kaniko/executor"
    assert "--dockerfile=/workspace/Dockerfile" in argv
    assert "--context=dir:///workspace" in argv
    assert "--destination=registry.example.com/myorg/app:main-0123456" in argv
    assert "--cache=true" in argv and "--cache-dir=/devops-cache/kaniko" in argv
    mounts = {m["mountPath"]: m["name"] for m in publish["volumeMounts"]}
    assert mounts["/kaniko/.docker"] == "registry-auth"
    volumes = {v["name"]: v for v in manifest["spec"]["volumes"]}
    assert volumes["registry-auth"]["secret"]["secretName"] == names.REGISTRY_SECRET
    assert volumes[mounts["/devops-cache/kaniko"]]["hostPath"]["path"] == "/var/lib/devops/cache/team/app/kaniko"
    # deploy steps learn what was pushed
    helm_env = {e["name"]: e.get("value") for e in containers(manifest)["step-3-1"]["env"]}
    assert helm_env["CICD_IMAGE"] == "registry.example.com/myorg/app:main-0123456"
    assert "--set-string" in containers(manifest)["step-3-1"]["args"]
    assert "image.tag=0123456" in containers(manifest)["step-3-1"]["args"]


def test_local_registry_push_is_insecure_only_for_the_built_in_registry(pod):
    manifest = pod("stages:\n- name: P\n  steps:\n  - publishImageConfig: {tag: 'app:1'}\n")
    argv = containers(manifest)["step-1-0"]["args"]
    assert "--destination=registry.team-pipeline.svc:5000/app:1" in argv
    assert "--insecure-registry=registry.team-pipeline.svc:5000" in argv


def test_only_deploy_steps_get_the_api_token(pod):
    manifest = pod(BIG_EXAMPLE)
    assert manifest["spec"]["automountServiceAccountToken"] is False
    token_path = "/var/run/secrets/kubernetes.io/serviceaccount"
    with_token = [
        name for name, c in containers(manifest).items() if any(m["mountPath"] == token_path for m in c["volumeMounts"])
    ]
    assert with_token == ["step-3-0", "step-3-1"]


def test_caches_are_host_paths_per_pipeline_and_path_hash(pod):
    import hashlib

    manifest = pod(SIMPLE, nodes=["n1"])
    volumes = {v["name"]: v for v in manifest["spec"]["volumes"]}
    first, second = containers(manifest)["step-1-0"], containers(manifest)["step-1-1"]
    npm = hashlib.sha256(b"/root/.npm").hexdigest()[:16]
    modules = hashlib.sha256(b"node_modules").hexdigest()[:16]
    mounts = {m["mountPath"]: m["name"] for m in first["volumeMounts"]}
    assert volumes[mounts["/root/.npm"]]["hostPath"] == {
        "path": f"/var/lib/devops/cache/team/app/{npm}",
        "type": "DirectoryOrCreate",
    }
    assert volumes[mounts["/workspace/node_modules"]]["hostPath"]["path"].endswith(f"/team/app/{modules}")
    # the same path in two steps is one volume
    assert {m["mountPath"]: m["name"] for m in second["volumeMounts"]}["/root/.npm"] == mounts["/root/.npm"]
    assert sum(1 for v in volumes.values() if "hostPath" in v) == 2


def test_affinity_prefers_the_newest_distinct_nodes_with_falling_weights(pod):
    recent = ["n1", "n2", "n1", "n3", "n4", "n2", "n5", "n6", "n7", "n8", "n9", "n10", "n11", "n12"]
    manifest = pod(SIMPLE, nodes=recent)
    terms = manifest["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [t["weight"] for t in terms] == [100, 90, 80, 70, 60, 50, 40, 30, 20, 10]
    chosen = [t["preference"]["matchExpressions"][0]["values"][0] for t in terms]
    assert chosen == ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"]
    assert all(t["preference"]["matchExpressions"][0]["key"] == "kubernetes.io/hostname" for t in terms)


def test_cache_node_count_limits_the_terms(pod):
    manifest = pod(SIMPLE, nodes=["a", "b", "c", "d"], settings=default_settings(**{"cache-node-count": "3"}))
    terms = manifest["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [t["weight"] for t in terms] == [100, 90, 80]
    none = pod(SIMPLE, nodes=["a"], settings=default_settings(**{"cache-node-count": "0"}))
    assert "affinity" not in none["spec"]
    assert "affinity" not in pod(SIMPLE)["spec"]  # no history yet


def test_serverless_uses_virtual_nodes_and_no_host_paths(pod):
    manifest = pod(BIG_EXAMPLE, nodes=["n1", "n2"], settings=default_settings(serverless="on"))
    spec = manifest["spec"]
    assert spec["nodeSelector"] == {"type": "virtual-kubelet"}
    assert {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert "hostPath" not in json.dumps(manifest)
    assert "affinity" not in spec
    assert not any(a.startswith("--cache-dir") for a in containers(manifest)["step-2-0"]["args"])
    assert "annotations" not in manifest["metadata"]


def test_image_cache_annotation_on_serverless(pod):
    manifest = pod(SIMPLE, settings=default_settings(serverless="on", **{"image-cache": "on"}))
    assert manifest["metadata"]["annotations"] == {IMAGE_CACHE_ANNOTATION: "true"}
    plain = pod(SIMPLE, settings=default_settings(**{"image-cache": "on"}))
    assert "annotations" not in plain["metadata"]


def test_requests_sum_to_the_execution_request_plus_minimal_ones(pod):
    manifest = pod(BIG_EXAMPLE)
    items = manifest["spec"]["containers"]
    cpu = sum(parse_quantity(c["resources"]["requests"]["cpu"]) for c in items)
    memory = sum(parse_quantity(c["resources"]["requests"]["memory"]) for c in items)
    others = len(items) - 1
    # the Test step asks for the most (500m, 256Mi); everyone else asks 1m / 1Mi
    assert cpu == Decimal("0.5") + others * Decimal("0.001")
    assert memory == 256 * 2**20 + others * 2**20
    assert items[0]["resources"]["requests"] == {"cpu": "500m", "memory": "256Mi"}
    assert all(c["resources"]["requests"] == {"cpu": "1m", "memory": "1Mi"} for c in items[1:])
    # limits are per step: the Test step's own, the project defaults elsewhere
    assert items[1]["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert items[2]["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    for c in items:
        for key in ("cpu", "memory"):
            assert parse_quantity(c["resources"]["requests"][key]) <= parse_quantity(c["resources"]["limits"][key])


def test_carrier_limit_rises_to_the_execution_request(pod):
    text = """
stages:
  - name: Big
    steps:
      - runScriptConfig: {image: alpine, shellScript: "true"}
        cpuRequest: "3"
        memoryRequest: 4Gi
        memoryLimit: 8Gi
"""
    first = pod(text)["spec"]["containers"][0]  # the clone step carries the request
    assert first["resources"]["requests"] == {"cpu": "3", "memory": "4Gi"}
    assert first["resources"]["limits"] == {"cpu": "3", "memory": "4Gi"}


def test_secrets_appear_only_as_secret_key_refs(pod):
    secret_value = "s3cr3t-codecov-token-value"
    manifest = pod(BIG_EXAMPLE)
    text = json.dumps(manifest)
    assert secret_value not in text
    test = containers(manifest)["step-1-0"]
    token = next(e for e in test["env"] if e["name"] == "CODECOV_TOKEN")
    assert token == {
        "name": "CODECOV_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "devops-env-codecov", "key": "token"}},
    }
    clone_env = {e["name"]: e for e in containers(manifest)["step-0-0"]["env"]}
    for key in ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0"):
        assert "value" not in clone_env[key]
        assert clone_env[key]["valueFrom"]["secretKeyRef"]["name"] == "devops-git-app"
    assert "Authorization" not in text and "extraHeader" not in text


def test_pull_requests_get_no_project_secrets(pod):
    manifest = pod(BIG_EXAMPLE.replace("when: {event: push}", ""), event="pull_request")
    assert "devops-env-" not in json.dumps(manifest)


def test_skipped_steps_get_no_container_and_are_not_waited_for(pod):
    manifest = pod(BIG_EXAMPLE, skipped=frozenset({(1, 0)}))
    by_name = containers(manifest)
    assert "step-1-0" not in by_name
    assert by_name["step-2-0"]["args"][3] == "0-0"  # waits for the clone, the Test stage has nothing


def test_dollars_are_escaped_against_kubernetes_expansion(pod):
    text = "stages:\n- name: S\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: 'echo $(date) $HOME'}\n"
    script = containers(pod(text))["step-1-0"]["args"][-1]
    assert script == "echo $$(date) $$HOME"
    assert unescape(script) == "echo $(date) $HOME"


def test_security_context_is_unprivileged(pod):
    manifest = pod(BIG_EXAMPLE)
    spec = manifest["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"] + spec["initContainers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["capabilities"]["drop"]
    by_name = containers(manifest)
    for name in ("step-0-0", "step-3-0", "step-3-1"):
        assert by_name[name]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert spec["initContainers"][0]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize(
    ("project", "pipeline", "run"),
    [
        ("team", "app", 1),
        ("Team_Space", "My.Pipeline_Name", 7),
        ("p" * 50, "a-very-long-pipeline-name-" * 5, 123456),
        ("x", "-weird--", 3),
    ],
)
def test_names_and_labels_are_valid(pod, project, pipeline, run):
    manifest = pod(SIMPLE, project=project, pipeline=pipeline, run=run)
    meta = manifest["metadata"]
    assert DNS_LABEL.match(meta["name"]) and len(meta["name"]) <= 63
    assert meta["name"].endswith(f"-{run}")
    assert DNS_LABEL.match(meta["namespace"]) and len(meta["namespace"]) <= 63
    assert set(meta["labels"]) == {"devops.io/project", "devops.io/pipeline", "devops.io/execution", "devops.io/run"}
    for value in meta["labels"].values():
        assert LABEL_VALUE.match(value) and len(value) <= 63
    assert meta["labels"]["devops.io/run"] == str(run)


def test_names_keep_valid_input_and_hash_what_they_shorten():
    assert names.namespace("team") == "team-pipeline"
    assert names.pod_name("app", 42) == "app-42"
    long_a, long_b = "a" * 70 + "x", "a" * 70 + "y"
    assert names.pod_name(long_a, 1) != names.pod_name(long_b, 1)
    assert len(names.pod_name(long_a, 1)) <= 63
    assert names.label_value("ok.value_1") == "ok.value_1"
    assert names.secret_key("token") == "token" and names.secret_key("bad key/") .startswith("k-")
