"""The pod of one execution, as a plain manifest dict (no API calls; the executor creates it).

One container per step that runs (steps whose ``when`` does not match get none), named
``step-<stage>-<step>``; an init container writes the runner script into the shared emptyDir
``/devops``; every step container starts the runner, which sequences the stages inside the pod.
Kubernetes expands ``$(NAME)`` in command, args and env values: every ``$`` we emit is doubled so the
container sees exactly the text we meant (a shell's ``$(date)`` stays a command substitution).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from devops.pipeline_config import PipelineSpec, Step, substitute
from devops.project_settings import as_bool

from . import names
from .affinity import node_affinity
from .caches import cache_mounts
from .images import shell_for
from .resources import MINIMAL_CPU, MINIMAL_MEMORY, container_resources
from .runner_script import (
    INSTALL_COMMAND,
    KEEPER_SCRIPT,
    ROOT,
    RUNNER_CONFIG_MAP,
    RUNNER_SCRIPT,
    RUNNER_SOURCE,
    runner_args,
)
from .step_kinds import KANIKO_CACHE_MOUNT, KANIKO_DOCKER_CONFIG, SA_TOKEN_MOUNT, WORKSPACE, CloneInfo, kind_spec

IMAGE_CACHE_ANNOTATION = "k8s.aliyun.com/eci-image-cache"
VIRTUAL_KUBELET_SELECTOR = {"type": "virtual-kubelet"}
VIRTUAL_KUBELET_TOLERATIONS = [
    {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoExecute"},
]


@dataclass(frozen=True)
class PodIdentity:
    """Who the pod belongs to; plain values so the manifest can be built without a database."""

    project: str
    pipeline: str  # the pipeline's name (a slug, unique in its project)
    execution_id: str  # CICD_EXECUTION_ID, ``<pipeline id>-<run>``
    run: int
    repository_url: str  # without credentials
    commit: str
    branch: str = ""
    event: str = "manual"
    skipped: frozenset[tuple[int, int]] = field(default_factory=frozenset)  # (stage, step) not run

    @property
    def namespace(self) -> str:
        return names.namespace(self.project)

    @property
    def pod_name(self) -> str:
        return names.pod_name(self.pipeline, self.run)

    @property
    def labels(self) -> dict[str, str]:
        return names.labels(project=self.project, pipeline=self.pipeline, execution_id=self.execution_id, run=self.run)


def escape(text: str) -> str:
    """Undo Kubernetes' ``$(VAR)`` expansion in command, args and env values: ``$$`` means ``$``."""
    return text.replace("$", "$$")


def _env(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "value": escape(item["value"])} if "value" in item else item for item in items]


def step_plain_env(step: Step, variables: dict[str, str], exports: dict[str, str]) -> dict[str, str]:
    """Variables, what earlier publish steps exported, then the step's own env (substituted)."""
    env = {**variables, **exports}
    for key, value in step.env.items():
        env[key] = substitute(value, env)
    return env


def secret_env(step: Step, event: str) -> list[dict[str, Any]]:
    """``envFrom`` as secretKeyRef to the project's ``devops-env-<name>`` Secrets; none on pull requests."""
    if event == "pull_request":
        return []
    return [
        {
            "name": ref.target_key or ref.source_key,
            "valueFrom": {
                "secretKeyRef": {"name": names.env_secret(ref.source_name), "key": names.secret_key(ref.source_key)}
            },
        }
        for ref in step.env_from
    ]


def _security(drop: list[str]) -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": list(drop)}}


CACHE_KEEPER = "cache-keeper"


def build_pod(
    spec: PipelineSpec,
    identity: PodIdentity,
    *,
    variables: dict[str, str],
    settings: dict[str, str],
    recent_nodes: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The pod manifest (apiVersion v1, kind Pod) for one execution of ``spec``."""
    serverless = as_bool(settings.get("serverless", "off"))
    use_caches = not serverless
    clone = CloneInfo(identity.repository_url, identity.commit, identity.branch, identity.pipeline)
    running = [
        [(sj, step) for sj, step in enumerate(stage.steps) if (si, sj) not in identity.skipped]
        for si, stage in enumerate(spec.stages)
    ]
    all_steps = [step for stage in running for _, step in stage]
    resources = iter(container_resources(all_steps, settings))
    cache_base = "/".join((settings["cache-root"].rstrip("/"), identity.project, identity.pipeline))

    containers: list[dict[str, Any]] = []
    volumes: dict[str, dict[str, Any]] = {}
    exports: dict[str, str] = {}
    wait: list[tuple[int, int]] = []
    token_needed = registry_needed = False
    for si, stage in enumerate(running):
        ids = [(si, sj) for sj, _ in stage]
        stage_exports: dict[str, str] = {}
        for sj, step in stage:
            env = step_plain_env(step, variables, exports)
            kind = kind_spec(step, env, settings=settings, clone=clone, caches=use_caches)
            stage_exports.update(kind.exports)
            mounts = [{"name": "devops", "mountPath": ROOT}, {"name": "workspace", "mountPath": WORKSPACE}]
            waits_for_caches = False
            if use_caches:
                for volume, mount in cache_mounts(step.cache_paths, cache_base, WORKSPACE):
                    volumes[volume["name"]] = volume
                    mounts.append(mount)
                    waits_for_caches = True
                if kind.needs_kaniko_cache:
                    volumes["kaniko-cache"] = {
                        "name": "kaniko-cache",
                        "hostPath": {"path": f"{cache_base}/kaniko", "type": "DirectoryOrCreate"},
                    }
                    mounts.append({"name": "kaniko-cache", "mountPath": KANIKO_CACHE_MOUNT})
            if kind.needs_registry_auth:
                registry_needed = True
                mounts.append({"name": "registry-auth", "mountPath": KANIKO_DOCKER_CONFIG, "readOnly": True})
            if kind.needs_api_token:
                token_needed = True
                mounts.append({"name": "api-token", "mountPath": SA_TOKEN_MOUNT, "readOnly": True})
            secrets = secret_env(step, identity.event)
            secret_names = {item["name"] for item in secrets}
            step_env = [{"name": k, "value": v} for k, v in env.items() if k not in secret_names]
            if waits_for_caches:
                step_env.append({"name": "DEVOPS_WAIT_CACHES", "value": "1"})
            if step.timeout_minutes is not None:
                step_env.append({"name": "DEVOPS_TIMEOUT", "value": str(max(1, int(step.timeout_minutes * 60)))})
            siblings = [other for other in ids if other != (si, sj)]
            containers.append({
                "name": names.container_name(si, sj),
                "image": kind.image,
                "imagePullPolicy": "IfNotPresent",
                "command": [shell_for(step.kind)],
                "args": [escape(a) for a in runner_args(si, sj, wait, siblings) + kind.command],
                "workingDir": WORKSPACE,
                "env": _env(step_env + kind.env) + secrets,
                "resources": next(resources),
                "volumeMounts": mounts,
                "securityContext": _security(kind.drop_capabilities),
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            })
        if ids:
            wait = ids
        exports.update(stage_exports)

    cache_volumes = sorted(name for name in volumes if name.startswith("cache-"))
    if cache_volumes:
        containers.append(_cache_keeper(settings, cache_volumes, [c["name"][len("step-"):] for c in containers]))

    pod_volumes = [
        {"name": "devops", "emptyDir": {}},
        {"name": "runner-source", "configMap": {"name": RUNNER_CONFIG_MAP, "defaultMode": 0o444}},
        {"name": "workspace", "emptyDir": {}},
        *volumes.values(),
    ]
    if registry_needed:
        pod_volumes.append({
            "name": "registry-auth",
            "secret": {
                "secretName": names.REGISTRY_SECRET,
                "optional": True,
                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
            },
        })
    if token_needed:
        pod_volumes.append(_api_token_volume(int(spec.timeout_minutes * 60)))

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": names.SERVICE_ACCOUNT,
        # Only deploy steps get the API token (a projected volume); builds and scripts never see it.
        "automountServiceAccountToken": False,
        "activeDeadlineSeconds": max(1, int(spec.timeout_minutes * 60)),
        "enableServiceLinks": False,
        # No runAsNonRoot: arbitrary step images (golang, node, kaniko) run as root and install things.
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [_init_container(settings)],
        "containers": containers,
        "volumes": pod_volumes,
    }
    metadata: dict[str, Any] = {"name": identity.pod_name, "namespace": identity.namespace, "labels": identity.labels}
    if serverless:
        pod_spec["nodeSelector"] = dict(VIRTUAL_KUBELET_SELECTOR)
        pod_spec["tolerations"] = [dict(t) for t in VIRTUAL_KUBELET_TOLERATIONS]
        if as_bool(settings.get("image-cache", "off")):
            metadata["annotations"] = {IMAGE_CACHE_ANNOTATION: "true"}
    elif any("hostPath" in v for v in pod_volumes):
        affinity = node_affinity(recent_nodes, int(settings.get("cache-node-count", "10") or 0))
        if affinity:
            pod_spec["affinity"] = affinity
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def _init_container(settings: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "install-runner",
        "image": settings["image-runner"],
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", escape(INSTALL_COMMAND)],
        "env": [
            {"name": "DEVOPS_RUNNER_ROOT", "value": ROOT},
            {"name": "DEVOPS_RUNNER_SOURCE", "value": RUNNER_SOURCE},
            {"name": "DEVOPS_RUNNER_SHA256", "value": hashlib.sha256(RUNNER_SCRIPT.encode()).hexdigest()},
        ],
        "resources": {
            "requests": {"cpu": MINIMAL_CPU, "memory": MINIMAL_MEMORY},
            "limits": {"cpu": "100m", "memory": "32Mi"},
        },
        "volumeMounts": [
            {"name": "devops", "mountPath": ROOT},
            {"name": "runner-source", "mountPath": RUNNER_SOURCE, "readOnly": True},
        ],
        "securityContext": {**_security(["ALL"]), "runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": True},
    }


def _cache_keeper(settings: dict[str, str], volumes: list[str], step_ids: list[str]) -> dict[str, Any]:
    """Holds the node's cache locks for this pod's steps (runner_script.KEEPER_SCRIPT says why)."""
    return {
        "name": CACHE_KEEPER,
        "image": settings["image-runner"],
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", escape(KEEPER_SCRIPT)],
        "env": [
            {"name": "DEVOPS_RUNNER_ROOT", "value": ROOT},
            {"name": "DEVOPS_CACHE_DIRS", "value": " ".join(f"/devops-cache/{v}" for v in volumes)},
            {"name": "DEVOPS_STEP_IDS", "value": " ".join(step_ids)},
        ],
        "resources": {
            "requests": {"cpu": MINIMAL_CPU, "memory": MINIMAL_MEMORY},
            "limits": {"cpu": "50m", "memory": "16Mi"},
        },
        "volumeMounts": [{"name": "devops", "mountPath": ROOT}]
        + [{"name": v, "mountPath": f"/devops-cache/{v}"} for v in volumes],
        # Root (the hostPath directories are root's) but with no capabilities at all.
        "securityContext": _security(["ALL"]),
    }


def _api_token_volume(expiry: int) -> dict[str, Any]:
    """What automount would give, for deploy containers only: token, cluster CA, namespace."""
    return {
        "name": "api-token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": max(3600, expiry + 600)}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [
                    {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                ]}},
            ]
        },
    }
