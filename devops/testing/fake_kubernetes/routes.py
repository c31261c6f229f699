"""URL -> what it names: a discovery document, or a resource type with namespace, name and subresource."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ApiError
from .resources import Registry, ResourceType


@dataclass(frozen=True)
class Discovery:
    what: str  # "version", "api", "apis", "group", "resources", "health"
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @property
    def counter_resource(self) -> str:
        return f"{self.rt.qualified}/{self.subresource}" if self.subresource else self.rt.qualified


def _not_found(path: str) -> ApiError:
    return ApiError(404, f"the server could not find the requested resource ({path})", "NotFound")


def route(registry: Registry, path: str) -> Discovery | Target:
    parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/") if p]
    if parts in (["version"], ["version", ""]):
        return Discovery("version")
    if parts and parts[0] in ("healthz", "livez", "readyz"):
        return Discovery("health")
    if parts == ["api"]:
        return Discovery("api")
    if parts == ["apis"]:
        return Discovery("apis")
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) == 2 and parts[0] == "apis":
        if parts[1] not in registry.groups():
            raise _not_found(path)
        return Discovery("group", parts[1])
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _not_found(path)
    if not registry.in_group_version(group, version):
        raise _not_found(path)
    if not rest:
        return Discovery("resources", group, version)
    return _resource_target(registry, path, group, version, rest)


def _resource_target(registry: Registry, path: str, group: str, version: str, rest: list[str]) -> Target:
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    rt = registry.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3 or (namespace is not None and not rt.namespaced):
        raise _not_found(path)
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and subresource not in rt.subresources and subresource != "finalize":
        raise _not_found(path)
    return Target(rt, namespace, name, subresource)
