"""What each step kind runs in its container: image, command (after the runner's ``--``), extra env,
mounts, the capabilities it can do without, and what later steps learn from it (CICD_IMAGE...).

Values from the pipeline file travel in env vars or as whole argv items, never spliced into a shell
string, so a branch named ``$(rm -rf ~)`` stays a name.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from devops.executors.environment import publish_destination, publish_exports
from devops.executors.local.commands import CLONE_SCRIPT
from devops.pipeline_config import Step, substitute

from . import names

WORKSPACE = "/workspace"
KANIKO_DOCKER_CONFIG = "/kaniko/.docker"
KANIKO_CACHE_MOUNT = "/devops-cache/kaniko"
SA_TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
GIT_CREDENTIAL_KEYS = ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0")

# ${NAME} -> its value when NAME is in DEVOPS_SUBST_NAMES (space separated), else left as it is (spec).
SUBST_AWK = r"""BEGIN { n = split(ENVIRON["DEVOPS_SUBST_NAMES"], k, " "); for (i = 1; i <= n; i++) ok[k[i]] = 1 }
{ out = ""; line = $0
  while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
    name = substr(line, RSTART + 2, RLENGTH - 3); ref = substr(line, RSTART, RLENGTH)
    out = out substr(line, 1, RSTART - 1) ((name in ok) ? ENVIRON[name] : ref); line = substr(line, RSTART + RLENGTH)
  }
  print out line }"""

APPLY_YAML_SCRIPT = r"""if [ -n "${DEVOPS_YAML_PATH:-}" ]; then src=$DEVOPS_YAML_PATH; else
  src=/tmp/devops-apply.yaml; printf '%s\n' "$DEVOPS_YAML_CONTENT" > "$src"; fi
awk "$DEVOPS_SUBST_AWK" "$src" > /tmp/devops-applied.yaml
set -- apply -f /tmp/devops-applied.yaml
[ -n "${DEVOPS_NAMESPACE:-}" ] && set -- "$@" --namespace "$DEVOPS_NAMESPACE"
echo "kubectl $*"
kubectl "$@"
"""


@dataclass
class KindSpec:
    image: str
    command: list[str]
    env: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    drop_capabilities: list[str] = field(default_factory=lambda: ["ALL"])
    needs_api_token: bool = False
    needs_registry_auth: bool = False
    needs_kaniko_cache: bool = False
    exports: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CloneInfo:
    url: str
    commit: str
    branch: str
    pipeline: str  # names the git credentials Secret (names.git_secret)


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _workspace_path(path: str) -> str:
    return posixpath.normpath(posixpath.join(WORKSPACE, path))


def kind_spec(step: Step, env: dict[str, str], *, settings: dict[str, str], clone: CloneInfo, caches: bool) -> KindSpec:
    """``env`` is the step's plain environment (variables, exports, its own env), for substitution."""
    kind = step.kind
    if kind == "sourceCode":
        secret = names.git_secret(clone.pipeline)
        creds = [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
            for key in GIT_CREDENTIAL_KEYS
        ]
        return KindSpec(
            image=settings["image-git"],
            command=["/bin/sh", "-ec", CLONE_SCRIPT],
            env=[
                _value("DEVOPS_GIT_URL", clone.url),
                _value("DEVOPS_GIT_SHA", clone.commit),
                _value("DEVOPS_GIT_BRANCH", clone.branch),
                _value("GIT_TERMINAL_PROMPT", "0"),
                *creds,
            ],
        )
    if kind == "runScript":
        # Arbitrary images often run as root and install packages (apt needs CHOWN, SETUID, ...).
        return KindSpec(
            image=substitute(step.config.image, env),
            command=["/bin/sh", "-ec", step.config.shell_script],
            drop_capabilities=["NET_RAW", "MKNOD", "AUDIT_WRITE"],
        )
    if kind == "publishImage":
        return _kaniko(step, env, settings, caches)
    if kind == "applyYaml":
        cfg = step.config
        extra = [_value("DEVOPS_SUBST_AWK", SUBST_AWK), _value("DEVOPS_SUBST_NAMES", " ".join(sorted(env)))]
        if cfg.path is not None:
            extra.append(_value("DEVOPS_YAML_PATH", _workspace_path(substitute(cfg.path, env))))
        else:
            extra.append(_value("DEVOPS_YAML_CONTENT", cfg.content or ""))
        if cfg.namespace:
            extra.append(_value("DEVOPS_NAMESPACE", substitute(cfg.namespace, env)))
        return KindSpec(
            image=settings["image-kubectl"], command=["/bin/sh", "-ec", APPLY_YAML_SCRIPT], env=extra,
            needs_api_token=True,
        )
    if kind == "applyApp":
        return KindSpec(image=settings["image-helm"], command=_helm_argv(step, env), needs_api_token=True)
    raise ValueError(f"step kind {kind!r} is not supported by the Kubernetes executor")


def _kaniko(step: Step, env: dict[str, str], settings: dict[str, str], caches: bool) -> KindSpec:
    cfg = step.config
    image, registry, insecure = publish_destination(step, env, env.get("CICD_LOCAL_REGISTRY", ""))
    argv = [
        "/kaniko/executor",
        f"--dockerfile={_workspace_path(substitute(cfg.dockerfile_path, env))}",
        f"--context=dir://{_workspace_path(substitute(cfg.build_context, env))}",
        f"--destination={image}",
        "--cache=true",
    ]
    if caches:
        argv.append(f"--cache-dir={KANIKO_CACHE_MOUNT}")
    if insecure:  # the built-in registry is plain HTTP inside the cluster; remote ones keep TLS checks
        argv.append(f"--insecure-registry={registry}")
    return KindSpec(
        image=settings["image-kaniko"],
        command=argv,
        env=[_value("DOCKER_CONFIG", KANIKO_DOCKER_CONFIG)],
        # kaniko unpacks base images as root (chown, setuid bits): only drop what a build never needs.
        drop_capabilities=["NET_RAW"],
        needs_registry_auth=True,
        needs_kaniko_cache=caches,
        exports=publish_exports(image, registry),
    )


def _helm_argv(step: Step, env: dict[str, str]) -> list[str]:
    cfg = step.config
    argv = ["helm", "upgrade", "--install", substitute(cfg.name, env), substitute(cfg.chart, env)]
    if cfg.repo:
        argv += ["--repo", substitute(cfg.repo, env)]
    if cfg.version:
        argv += ["--version", substitute(cfg.version, env)]
    argv += ["--namespace", substitute(cfg.target_namespace, env)]
    for key, value in cfg.values.items():
        argv += ["--set-string", f"{key}={substitute(str(value), env).replace(',', chr(92) + ',')}"]
    return argv
