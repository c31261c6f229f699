"""The project-level keys that shape every execution (spec/pipeline-file.md), with defaults and checks.

One registry so the engine, executors, API and admin agree on names, defaults and validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings as django_settings

_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_BOOL = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def validate_non_negative_int(value: str) -> None:
    # isascii: str.isdigit() also accepts "²" and other digits int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ValueError(f"expected a non-negative integer (at most 9 digits), got {value!r}")


def validate_quantity(value: str) -> None:
    if not _QUANTITY.fullmatch(value):
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


# Kubernetes rejects a container whose request is above its limit: each pair is checked together.
RESOURCE_PAIRS = (
    ("executor-cpu-request", "executor-cpu-limit"),
    ("executor-memory-request", "executor-memory-limit"),
)
_SCALE = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
    "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip


def quantity_value(value: str) -> Decimal | None:
    """The number a valid quantity stands for ("500m" -> 0.5), None for an invalid one."""
    match = _QUANTITY.fullmatch(value)
    return Decimal(match.group(1)) * _SCALE[match.group(3) or ""] if match else None


def validate_settings(changes: Mapping[str, str], current: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Messages by key for ``changes`` applied over ``current`` (the effective values); empty when valid.

    Each value is checked on its own, then each request against its limit with the other side taken
    from ``current`` when it is not changed, so lowering a limit below the stored request is caught too.
    A pair error is reported on the changed key (the request when both change).
    """
    errors: dict[str, list[str]] = {}
    for key, value in changes.items():
        try:
            validate_setting(key, value)
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    merged = {**(current or {}), **changes}
    for request, limit in RESOURCE_PAIRS:
        if request in errors or limit in errors or not (request in changes or limit in changes):
            continue
        low, high = quantity_value(merged.get(request, "")), quantity_value(merged.get(limit, ""))
        if low is not None and high is not None and low > high:
            where = request if request in changes else limit
            errors.setdefault(where, []).append(
                f"{request} {merged[request]} is more than {limit} {merged[limit]}; "
                "Kubernetes rejects a request above its limit"
            )
    return errors


def as_bool(value: str) -> bool:
    return _BOOL.get(value.lower(), False)


def parse_mirrors(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in filter(None, (x.strip() for x in value.replace(";", "\n").splitlines())):
        key, _, url = line.partition("=")
        out[key.strip()] = url.strip()
    return out
