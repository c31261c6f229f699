"""The resource types the fake server serves: built-in kinds plus custom resources registered at start."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # e.g. ("status", "log")
    verbs: tuple[str, ...] = field(default=ALL_VERBS)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def qualified(self) -> str:
        """``pods`` for the core group, ``imagepulljobs.apps.kruise.io`` otherwise (as counters name it)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def base_path(self, namespace: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


BUILTINS: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), ("status",)),
    ResourceType("", "v1", "Pod", "pods", True, ("po",), ("status", "log", "binding")),
    ResourceType("", "v1", "Service", "services", True, ("svc",), ("status",)),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    ResourceType("", "v1", "Event", "events", True, ("ev",)),
    ResourceType("", "v1", "Binding", "bindings", True, (), (), ("create",)),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
                 ("crd", "crds"), ("status",)),
)

IMAGE_PULL_JOB = ResourceType("apps.kruise.io", "v1alpha1", "ImagePullJob", "imagepulljobs", True, (), ("status",))


class Registry:
    """Known resource types, looked up by URL parts or by a short Python-side name."""

    def __init__(self, custom: tuple[ResourceType, ...] | list[ResourceType] = ()):
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in (*BUILTINS, *custom):
            self.register(rt)

    def register(self, rt: ResourceType) -> ResourceType:
        self._types[rt.key] = rt
        return rt

    def unregister(self, rt: ResourceType) -> None:
        self._types.pop(rt.key, None)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """group -> versions (core group excluded), in registration order."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            if rt.group and rt.version not in out.setdefault(rt.group, []):
                out[rt.group].append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.version == version]

    def resolve(self, what: ResourceType | str) -> ResourceType:
        """A ResourceType from itself, ``"pods"``, ``"Pod"``, ``"po"`` or ``"imagepulljobs.apps.kruise.io"``."""
        if isinstance(what, ResourceType):
            return what
        name = what.lower()
        matches = [
            rt
            for rt in self._types.values()
            if name in (rt.plural, rt.singular, rt.qualified, f"{rt.singular}.{rt.group}", *rt.short_names)
        ]
        core = [rt for rt in matches if not rt.group]
        if core:
            return core[0]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise KeyError(f"unknown resource {what!r}")
        raise KeyError(f"ambiguous resource {what!r}: {[rt.qualified for rt in matches]}")


def from_crd(crd: dict) -> list[ResourceType]:
    """The resource types (one per served version) a CustomResourceDefinition object declares."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    subresources = tuple(sorted(next((v.get("subresources") or {} for v in spec.get("versions") or []), {})))
    return [
        ResourceType(spec["group"], version["name"], names["kind"], names["plural"],
                     spec.get("scope", "Namespaced") == "Namespaced", tuple(names.get("shortNames") or ()),
                     subresources)
        for version in spec.get("versions") or []
        if version.get("served", True)
    ]
