"""Names and labels of the Kubernetes objects an execution uses, always valid for the API.

DNS-1123 labels (namespaces, pods, containers, volumes) are lowercase ``[a-z0-9-]``, start and end
alphanumeric, at most 63 characters; a name that had to be shortened or rewritten gets a hash suffix of
the original so two long names that share a prefix stay distinct.
"""

from __future__ import annotations

import hashlib
import re

MAX_DNS_LABEL = 63
MAX_LABEL_VALUE = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

LABEL_PROJECT = "devops.io/project"
LABEL_PIPELINE = "devops.io/pipeline"
LABEL_EXECUTION = "devops.io/execution"
LABEL_RUN = "devops.io/run"

# Secrets the provisioning keeps in the project's pipeline namespace (names are part of the contract).
REGISTRY_SECRET = "devops-registry-auth"  # kubernetes.io/dockerconfigjson, key .dockerconfigjson
GIT_SECRET_PREFIX = "devops-git-"  # + pipeline: keys GIT_CONFIG_COUNT, GIT_CONFIG_KEY_0, GIT_CONFIG_VALUE_0
ENV_SECRET_PREFIX = "devops-env-"  # + project secret name: one key per ProjectSecret key (secret_key)
SERVICE_ACCOUNT = "pipeline"


def _digest(text: str, size: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def dns_label(text: str, max_length: int = MAX_DNS_LABEL) -> str:
    """``text`` as a DNS-1123 label: unchanged when already valid, else cleaned with a hash suffix."""
    lowered = _NOT_DNS.sub("-", text.lower()).strip("-")
    if lowered == text and 0 < len(text) <= max_length:
        return text
    suffix = _digest(text)
    head = lowered[: max_length - len(suffix) - 1].strip("-")
    return f"{head}-{suffix}" if head else f"x-{suffix}"


def label_value(text: str) -> str:
    """A valid label value (``[A-Za-z0-9_.-]``, alphanumeric at both ends, at most 63)."""
    cleaned = _NOT_LABEL.sub("-", text).strip("-_.")
    if cleaned == text and len(text) <= MAX_LABEL_VALUE:
        return text
    suffix = _digest(text)
    head = cleaned[: MAX_LABEL_VALUE - len(suffix) - 1].strip("-_.")
    return f"{head}-{suffix}" if head else suffix


def namespace(project: str) -> str:
    """The project's pipeline namespace: ``<project>-pipeline``."""
    return dns_label(f"{project}-pipeline")


def pod_name(pipeline: str, run: int) -> str:
    """``<pipeline>-<run>``; the run number survives any shortening (it is what tells pods apart)."""
    tail = f"-{run}"
    base = _NOT_DNS.sub("-", pipeline.lower()).strip("-")
    if base == pipeline and len(base) + len(tail) <= MAX_DNS_LABEL:
        return f"{base}{tail}"
    return dns_label(pipeline, MAX_DNS_LABEL - len(tail)) + tail


def container_name(stage_index: int, step_index: int) -> str:
    """``step-<stage>-<step>``: positions, not user names, so the sync maps containers back exactly."""
    return f"step-{stage_index}-{step_index}"


def parse_container_name(name: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"step-(\d+)-(\d+)", name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def labels(*, project: str, pipeline: str, execution_id: int | str, run: int) -> dict[str, str]:
    """The labels the sync lists pods by (one call per namespace)."""
    return {
        LABEL_PROJECT: label_value(project),
        LABEL_PIPELINE: label_value(pipeline),
        LABEL_EXECUTION: label_value(str(execution_id)),
        LABEL_RUN: label_value(str(run)),
    }


def git_secret(pipeline: str) -> str:
    return dns_label(GIT_SECRET_PREFIX + pipeline, 253)


def env_secret(source_name: str) -> str:
    """The Secret holding project secret ``source_name`` (per project: it lives in the project namespace)."""
    return dns_label(ENV_SECRET_PREFIX + source_name, 253)


def secret_key(key: str) -> str:
    """A ProjectSecret key as a Secret data key (``[-._a-zA-Z0-9]+``); others become ``k-<hash>``."""
    return key if _SECRET_KEY.match(key) and len(key) <= 253 else f"k-{_digest(key, 16)}"
