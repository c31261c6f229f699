"""Discovery documents (/version, /api, /apis, /api/v1, /apis/<group>/<version>) so the dynamic client works."""

from __future__ import annotations

from .resources import Registry, ResourceType

VERSION = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.0-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-01-01T00:00:00Z",
    "goVersion": "go1.21.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "log": ["get"], "binding": ["create"]}


def api_versions() -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group(name: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict:
    groups = [_group(name, versions) for name, versions in registry.groups().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, registry.groups()[name])}


def _resource_entry(rt: ResourceType) -> dict:
    entry = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    return entry


def resource_list(registry: Registry, group: str, version: str) -> dict:
    resources = []
    for rt in registry.in_group_version(group, version):
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            kind = "Binding" if sub == "binding" else rt.kind
            resources.append({
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
            })
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
