"""The API server's cheap structural checks that catch real bugs: names, labels, and a pod's containers.

422 Invalid, with messages shaped like the server's. Full schema validation is kubernetes-validate's job.
"""

from __future__ import annotations

import re

from .errors import invalid
from .resources import ResourceType

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# kinds whose names must be DNS-1123 labels (<= 63) rather than subdomains (<= 253)
_LABEL_NAMED = {"Namespace", "Service"}


def _check_name(kind: str, name: str) -> None:
    if kind in _LABEL_NAMED:
        ok, limit, what = _DNS_LABEL.match(name), 63, "RFC 1123 label"
    else:
        ok, limit, what = _DNS_SUBDOMAIN.match(name), 253, "RFC 1123 subdomain"
    if not ok or len(name) > limit:
        raise invalid(kind, name, f'metadata.name: Invalid value: "{name}": a lowercase {what} must consist of '
                                  f"lower case alphanumeric characters, '-' or '.', and must be no more than "
                                  f"{limit} characters")


def _check_labels(kind: str, name: str, labels: object) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict):
        raise invalid(kind, name, "metadata.labels: Invalid value: must be a map of strings")
    for key, value in labels.items():
        prefix, _, short = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or len(short) > 63 \
                or not _QUALIFIED_NAME.match(short):
            raise invalid(kind, name, f'metadata.labels: Invalid value: "{key}": name part must consist of '
                                      "alphanumeric characters, '-', '_' or '.' (at most 63)")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise invalid(kind, name, f'metadata.labels: Invalid value: "{value}": a valid label must be an empty '
                                      "string or consist of alphanumeric characters, '-', '_' or '.' "
                                      "(at most 63)")


def _check_pod_spec(kind: str, name: str, spec: object, where: str) -> None:
    if not isinstance(spec, dict):
        raise invalid(kind, name, f"{where}: Required value")
    containers = spec.get("containers") or []
    if not containers:
        raise invalid(kind, name, f"{where}.containers: Required value")
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            cname = (container or {}).get("name") or ""
            if not _DNS_LABEL.match(cname) or len(cname) > 63:
                raise invalid(kind, name, f'{where}.{group}[{i}].name: Invalid value: "{cname}": '
                                          "must be a lowercase RFC 1123 label")
            if cname in seen:
                raise invalid(kind, name, f'{where}.{group}[{i}].name: Duplicate value: "{cname}"')
            seen.add(cname)
            if not container.get("image"):
                raise invalid(kind, name, f"{where}.{group}[{i}].image: Required value")


def validate(rt: ResourceType, obj: dict) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    _check_name(rt.kind, name)
    _check_labels(rt.kind, name, meta.get("labels"))
    if rt.kind == "Pod" and not rt.group:
        _check_pod_spec(rt.kind, name, obj.get("spec"), "spec")
    if rt.kind == "Deployment" and rt.group == "apps":
        template = (obj.get("spec") or {}).get("template") or {}
        _check_pod_spec(rt.kind, name, template.get("spec"), "spec.template.spec")


def _mutable_pod_fields_removed(spec: dict) -> dict:
    spec = {k: v for k, v in (spec or {}).items() if k not in ("activeDeadlineSeconds", "tolerations")}
    for group in ("initContainers", "containers"):
        if group in spec:
            spec[group] = [{k: v for k, v in c.items() if k != "image"} for c in spec[group]]
    return spec


def validate_update(rt: ResourceType, old: dict, new: dict, subresource: str | None) -> None:
    """A pod's spec is immutable through the API but for images, activeDeadlineSeconds and tolerations."""
    if rt.kind != "Pod" or rt.group or subresource in ("status", "*"):
        return
    if _mutable_pod_fields_removed(old.get("spec")) != _mutable_pod_fields_removed(new.get("spec")):
        raise invalid("Pod", old["metadata"]["name"], "spec: Forbidden: pod updates may not change fields other "
                      "than `spec.containers[*].image`, `spec.initContainers[*].image`, "
                      "`spec.activeDeadlineSeconds` or `spec.tolerations` (only additions to existing tolerations)")
