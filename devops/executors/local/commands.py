"""What each step kind runs on the local executor: an argv plus the environment it needs.

Values from the pipeline file or the trigger travel in environment variables, never spliced into a
shell string, so a branch named ``$(rm -rf ~)`` stays a name.
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from devops.executors.environment import StepSetupError, publish_destination, publish_exports
from devops.pipeline_config import Step, substitute

CLONE_SCRIPT = r"""
git init -q .
git fetch -q --depth=1 -- "$DEVOPS_GIT_URL" "$DEVOPS_GIT_SHA"
if [ -n "$DEVOPS_GIT_BRANCH" ]; then
  git checkout -q -B "$DEVOPS_GIT_BRANCH" FETCH_HEAD
else
  git checkout -q --detach FETCH_HEAD
fi
git log -1 --format='checked out %h %s'
"""

BUILDAH_SCRIPT = r"""
echo "building $DEVOPS_IMAGE from $DEVOPS_DOCKERFILE (context $DEVOPS_CONTEXT)"
buildah --storage-driver vfs bud --isolation chroot --layers \
  -f "$DEVOPS_DOCKERFILE" -t "$DEVOPS_IMAGE" "$DEVOPS_CONTEXT"
buildah --storage-driver vfs push $DEVOPS_PUSH_FLAGS "$DEVOPS_IMAGE" "docker://$DEVOPS_IMAGE"
echo "pushed $DEVOPS_IMAGE"
"""


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # Variables later steps get after this one succeeds (CICD_IMAGE after a publish).
    exports: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CloneSource:
    url: str
    sha: str
    branch: str
    auth_env: dict[str, str]


def build_command(
    step: Step,
    env: dict[str, str],
    *,
    clone: CloneSource,
    private_dir: Path,
    registry_auth: dict[str, tuple[str, str]],
) -> Command:
    kind = step.kind
    if kind == "sourceCode":
        return Command(
            ["/bin/sh", "-ec", CLONE_SCRIPT],
            {
                "DEVOPS_GIT_URL": clone.url,
                "DEVOPS_GIT_SHA": clone.sha,
                "DEVOPS_GIT_BRANCH": clone.branch,
                "GIT_TERMINAL_PROMPT": "0",
                **clone.auth_env,
            },
        )
    if kind == "runScript":
        return Command(["/bin/sh", "-ec", step.config.shell_script])
    if kind == "publishImage":
        return _publish(step, env, private_dir, registry_auth)
    if kind in ("applyYaml", "applyApp"):
        name = "applyYamlConfig" if kind == "applyYaml" else "applyAppConfig"
        raise StepSetupError(
            f"{name} deploys to Kubernetes, and this project has no cluster: it runs on the local executor."
            " Bind the project to a cluster to deploy from its pipelines."
        )
    raise StepSetupError(f"step kind {kind!r} is not supported by the local executor")


def _publish(
    step: Step, env: dict[str, str], private_dir: Path, registry_auth: dict[str, tuple[str, str]]
) -> Command:
    if shutil.which("buildah") is None:
        raise StepSetupError("publishImageConfig needs buildah on the worker host (apt-get install buildah)")
    cfg = step.config
    image, registry, insecure = publish_destination(step, env, settings.LOCAL_REGISTRY)
    if cfg.push_remote and cfg.registry and registry not in registry_auth:
        raise StepSetupError(f"publishImageConfig: the project has no registry credential for {registry}")
    # The built-in registry listens on loopback without TLS; remote registries keep verification on.
    push_flags = "--tls-verify=false" if insecure else ""
    extra = {
        "DEVOPS_IMAGE": image,
        "DEVOPS_DOCKERFILE": substitute(cfg.dockerfile_path, env),
        "DEVOPS_CONTEXT": substitute(cfg.build_context, env),
        "DEVOPS_PUSH_FLAGS": push_flags,
        "BUILDAH_ISOLATION": "chroot",
        "STORAGE_DRIVER": "vfs",
    }
    if registry in registry_auth:
        user, password = registry_auth[registry]
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        auth_file = private_dir / "registry-auth.json"
        auth_file.write_text(json.dumps({"auths": {registry: {"auth": token}}}))
        auth_file.chmod(0o600)
        extra["REGISTRY_AUTH_FILE"] = str(auth_file)
    return Command(["/bin/sh", "-ec", BUILDAH_SCRIPT], extra, publish_exports(image, registry))
