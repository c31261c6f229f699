"""Server-set fields: metadata stamps on create and update, and per-kind defaults."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
import string
import uuid

from .errors import bad_request, invalid
from .resources import ResourceType

_NAME_CHARS = string.ascii_lowercase + string.digits


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choices(_NAME_CHARS, k=5))


def prepare_new(rt: ResourceType, body: dict, namespace: str | None, rv: int) -> dict:
    """A copy of ``body`` as stored on create: identity, kind, namespace, stamps and defaults."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    obj = copy.deepcopy(body)
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    meta = obj.setdefault("metadata", {}) or {}
    obj["metadata"] = meta
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(meta["generateName"])
    if not meta.get("name"):
        raise invalid(rt.kind, "", "metadata.name: Required value: name or generateName is required")
    if rt.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    meta["uid"] = str(uuid.uuid4())
    meta["resourceVersion"] = str(rv)
    meta["creationTimestamp"] = now()
    meta["generation"] = 1
    for transient in ("deletionTimestamp", "selfLink"):
        meta.pop(transient, None)
    _DEFAULTS.get(rt.kind, lambda o: None)(obj)
    return obj


def prepare_update(rt: ResourceType, old: dict, new: dict, rv: int, subresource: str | None) -> dict:
    """``new`` as stored on update: identity kept, status or spec guarded by the subresource rules."""
    obj = copy.deepcopy(new)
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    meta = obj.setdefault("metadata", {}) or {}
    obj["metadata"] = meta
    old_meta = old["metadata"]
    for kept in ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp"):
        if kept in old_meta:
            meta[kept] = old_meta[kept]
        else:
            meta.pop(kept, None)
    if "status" in rt.subresources and subresource != "*":  # "*": a trusted Python-side write
        if subresource == "status":  # only status may change
            obj = {**copy.deepcopy(old), "status": obj.get("status"), "metadata": {**copy.deepcopy(old_meta)}}
            if obj["status"] is None:
                obj.pop("status")
        elif "status" in old:  # the main resource cannot change status
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    if rt.kind == "Secret":
        _secret_defaults(obj)
    if _spec_of(obj) != _spec_of(old):
        obj["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
    obj["metadata"]["resourceVersion"] = str(rv)
    return obj


def _spec_of(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _pod_defaults(pod: dict) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", "BestEffort")


def _namespace_defaults(ns: dict) -> None:
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = ns["metadata"]["name"]
    ns.setdefault("spec", {"finalizers": ["kubernetes"]})
    ns.setdefault("status", {}).setdefault("phase", "Active")


def _service_defaults(svc: dict) -> None:
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec.get("clusterIP") != "None":
        spec.setdefault("clusterIP", f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    svc.setdefault("status", {"loadBalancer": {}})


def _secret_defaults(secret: dict) -> None:
    secret.setdefault("type", "Opaque")
    string_data = secret.pop("stringData", None) or {}
    data = secret.get("data") or {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        secret["data"] = data


def _deployment_defaults(dep: dict) -> None:
    spec = dep.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("strategy", {"type": "RollingUpdate"})
    dep.setdefault("status", {})


def _node_defaults(node: dict) -> None:
    node.setdefault("spec", {})
    status = node.setdefault("status", {})
    status.setdefault("conditions", [{"type": "Ready", "status": "True"}])


_DEFAULTS = {
    "Pod": _pod_defaults,
    "Namespace": _namespace_defaults,
    "Service": _service_defaults,
    "Secret": _secret_defaults,
    "Deployment": _deployment_defaults,
    "Node": _node_defaults,
}
