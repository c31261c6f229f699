"""The project-level keys that shape every execution (spec/pipeline-file.md), with defaults and checks.

One registry so the engine, executors, API and admin agree on names, defaults and validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings as django_settings

_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_BOOL = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def validate_non_negative_int(value: str) -> None:
    if not value.isdigit():
        raise ValueError(f"expected a non-negative integer, got {value!r}")


def validate_quantity(value: str) -> None:
    if not _QUANTITY.match(value):
        raise ValueError(f"expected a Kubernetes quantity such as 500m, 2, 256Mi or 1Gi, got {value!r}")


def validate_bool(value: str) -> None:
    if value.lower() not in _BOOL:
        raise ValueError(f"expected on or off, got {value!r}")


def validate_path(value: str) -> None:
    if not value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"expected an absolute path without '..', got {value!r}")


_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/:@-]*[a-zA-Z0-9_.-])?$")


def validate_image(value: str) -> None:
    """An image reference such as ``busybox:1.36.1`` or ``registry:5000/team/tool@sha256:...``."""
    if not _IMAGE.match(value) or len(value) > 500:
        raise ValueError(f"expected an image reference such as busybox:1.36.1, got {value!r}")


def validate_mirrors(value: str) -> None:
    for line in filter(None, (x.strip() for x in value.replace(";", "\n").splitlines())):
        key, sep, _ = line.partition("=")
        if not sep or key not in MIRROR_VARIABLES:
            raise ValueError(f"expected NAME=URL lines with NAME one of {', '.join(MIRROR_VARIABLES)}")


MIRROR_VARIABLES = ("PIP_INDEX_URL", "NPM_CONFIG_REGISTRY", "GOPROXY", "MAVEN_MIRROR_URL")


@dataclass(frozen=True)
class SettingDef:
    key: str
    default: Callable[[], str]
    validate: Callable[[str], None]
    help: str


SETTINGS: dict[str, SettingDef] = {
    s.key: s
    for s in (
        SettingDef("executor-quota", lambda: "2", validate_non_negative_int,
                   "Executions of the project that may run at once; 0 means no limit."),
        SettingDef("executor-cpu-request", lambda: "100m", validate_quantity, "Per step unless the step says."),
        SettingDef("executor-cpu-limit", lambda: "1", validate_quantity, "Per step unless the step says."),
        SettingDef("executor-memory-request", lambda: "128Mi", validate_quantity, "Per step."),
        SettingDef("executor-memory-limit", lambda: "1Gi", validate_quantity, "Per step."),
        SettingDef("cache-root", lambda: django_settings.DEFAULT_CACHE_ROOT, validate_path,
                   "Where caches live on a node or on the worker host."),
        SettingDef("cache-node-count", lambda: "10", validate_non_negative_int,
                   "How many recent nodes get a preferred affinity."),
        SettingDef("mirrors", lambda: "", validate_mirrors,
                   "NAME=URL lines injected into every step (PIP_INDEX_URL, NPM_CONFIG_REGISTRY, ...)."),
        SettingDef("serverless", lambda: "off", validate_bool, "Schedule on virtual-kubelet nodes."),
        SettingDef("image-cache", lambda: "off", validate_bool, "Ask the virtual node for an image cache."),
        SettingDef("image-runner", lambda: "busybox:1.36.1",
                   validate_image,
                   "Kubernetes: init container that installs the step runner script (needs a shell)."),
        SettingDef("image-git", lambda: "alpine/git:2.45.2",
                   validate_image,
                   "Kubernetes: image of the clone step (git and a shell)."),
        SettingDef("image-kaniko", lambda: "gcr.io/kaniko-project/executor:v1.23.2-debug",
                   validate_image,
                   "Kubernetes: publishImageConfig builder; a kaniko :debug image (the runner needs its shell)."),
        SettingDef("image-kubectl", lambda: "alpine/k8s:1.29.4",
                   validate_image,
                   "Kubernetes: applyYamlConfig image (kubectl, awk and a shell)."),
        SettingDef("image-helm", lambda: "alpine/helm:3.14.4",
                   validate_image,
                   "Kubernetes: applyAppConfig image (helm and a shell)."),
    )
}


def validate_setting(key: str, value: str) -> None:
    """Raise ValueError with a message a user can act on."""
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    SETTINGS[key].validate(value)


def as_bool(value: str) -> bool:
    return _BOOL.get(value.lower(), False)


def parse_mirrors(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in filter(None, (x.strip() for x in value.replace(";", "\n").splitlines())):
        key, _, url = line.partition("=")
        out[key.strip()] = url.strip()
    return out
