"""The variables and secrets a step sees; shared by every executor so they agree to the letter."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from devops.models import PipelineExecution, ProjectSecret, RegistryCredential
from devops.pipeline_config import Step, substitute
from devops.project_settings import parse_mirrors


class StepSetupError(Exception):
    """A step cannot start (missing secret, unsupported kind here); the message is for the user."""


def strip_credentials(url: str) -> str:
    """CICD_GIT_URL and logs never carry a userinfo part."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def repo_name(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name[:-4] if name.endswith(".git") else name


def base_variables(execution: PipelineExecution, project_settings: dict[str, str]) -> dict[str, str]:
    """The CICD_* variables every step gets (spec: Variables every step gets)."""
    variables = {
        "CICD_GIT_REPO_NAME": repo_name(execution.repository_url),
        "CICD_GIT_URL": strip_credentials(execution.repository_url),
        "CICD_GIT_COMMIT": execution.commit[:7],
        "CICD_GIT_REF": execution.ref,
        "CICD_GIT_BRANCH": execution.branch,
        "CICD_EVENT": execution.event,
        "CICD_TRIGGER_TYPE": execution.trigger_type,
        "CICD_EXECUTION_ID": execution.execution_id,
        "CICD_EXECUTION_SEQUENCE": str(execution.run),
        "CICD_PIPELINE_ID": str(execution.pipeline_id),
        "CICD_PROJECT_ID": str(execution.project_id),
        "CICD_LOCAL_REGISTRY": settings.LOCAL_REGISTRY,
    }
    if execution.tag:
        variables["CICD_GIT_TAG"] = execution.tag
    variables.update(parse_mirrors(project_settings.get("mirrors", "")))
    variables.update({k: str(v) for k, v in (execution.extra_env or {}).items()})
    return variables


@dataclass
class SecretBook:
    """Every secret value an execution could print, for masking, and the ``envFrom`` lookups."""

    by_source: dict[str, dict[str, str]] = field(default_factory=dict)
    values: set[str] = field(default_factory=set)

    @classmethod
    def for_execution(cls, execution: PipelineExecution, extra: list[str] | None = None) -> SecretBook:
        book = cls()
        for secret in ProjectSecret.objects.filter(project_id=execution.project_id):
            data = {str(k): str(v) for k, v in (secret.data or {}).items()}
            book.by_source[secret.name] = data
            book.values.update(v for v in data.values() if v)
        for password in RegistryCredential.objects.filter(project_id=execution.project_id).values_list(
            "password", flat=True
        ):
            if password:
                book.values.add(password)
        book.values.update(v for v in (extra or []) if v)
        return book


def step_environment(
    step: Step, variables: dict[str, str], secrets: SecretBook, *, event: str
) -> tuple[dict[str, str], list[str]]:
    """The step's env (variables, the step's own env substituted, envFrom) and notes for its log."""
    env = dict(variables)
    notes: list[str] = []
    for key, value in step.env.items():
        env[key] = substitute(value, env)
    if step.env_from and event == "pull_request":
        notes.append("envFrom secrets are not injected into pull request executions")
        return env, notes
    for ref in step.env_from:
        source = secrets.by_source.get(ref.source_name)
        if source is None:
            raise StepSetupError(f"envFrom: project secret {ref.source_name!r} does not exist")
        if ref.source_key not in source:
            raise StepSetupError(f"envFrom: project secret {ref.source_name!r} has no key {ref.source_key!r}")
        env[ref.target_key or ref.source_key] = source[ref.source_key]
    return env, notes


def host_base_env(home: str) -> dict[str, str]:
    """What a local step inherits from the host: enough to run tools, nothing of the service's own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "dumb",
        "CI": "true",
    }


def publish_destination(step: Step, env: dict[str, str], local_registry: str) -> tuple[str, str, bool]:
    """(image, registry, insecure) of a publishImageConfig step: every executor pushes to the same place.

    ``pushRemote: false`` goes to the project's built-in registry (plain HTTP, hence insecure);
    otherwise to ``registry`` or the tag's own registry host, with TLS verification on."""
    cfg = step.config
    tag = substitute(cfg.tag, env)
    if cfg.push_remote:
        registry = cfg.registry or tag.split("/", 1)[0]
        image = tag if tag.startswith(registry + "/") else f"{registry}/{tag}"
        return image, registry, False
    return f"{local_registry}/{tag}", local_registry, True


def publish_exports(image: str, registry: str) -> dict[str, str]:
    """CICD_REGISTRY, CICD_IMAGE_REPO and CICD_IMAGE for the steps after a publish."""
    repo = image.split("/", 1)[1].rsplit(":", 1)[0] if "/" in image else image
    return {"CICD_REGISTRY": registry, "CICD_IMAGE_REPO": repo, "CICD_IMAGE": image}
