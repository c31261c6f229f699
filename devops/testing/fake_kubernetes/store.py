"""The fake cluster's state: objects per resource type, one global resourceVersion, and a watch event log.

Everything the HTTP server does goes through here, and so can plain Python code (a simulated scheduler or
kubelet): ``store.update("pods", name, fn, namespace=ns)``, ``store.subscribe(callback)``,
``store.append_log(ns, pod, container, text)``. Objects handed out are copies; stored ones are never mutated
in place, so an event's object is a stable snapshot.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from . import errors
from .objects import prepare_new, prepare_update
from .patch import apply_patch
from .resources import Registry, ResourceType, from_crd
from .selectors import matcher
from .validation import validate, validate_update

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public")


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rt: ResourceType
    obj: dict  # a snapshot: never mutate

    @property
    def namespace(self) -> str | None:
        return self.obj["metadata"].get("namespace")


class Store:
    def __init__(self, custom_resources=(), history: int = 10_000, require_namespaces: bool = True):
        self.registry = Registry(custom_resources)
        self.require_namespaces = require_namespaces
        self.cond = threading.Condition(threading.RLock())
        self._objects: dict[tuple[str, str, str], dict[tuple[str, str], dict]] = {}
        self._rv = 0
        self._events: deque[Event] = deque()
        self._history = history
        self._compacted = 0  # watching from a resourceVersion below this answers 410 Gone
        self._listeners: list[Callable[[Event], None]] = []
        self._logs: dict[tuple[str, str, str], str] = {}
        self.closed = False
        for name in DEFAULT_NAMESPACES:
            self.create("namespaces", {"metadata": {"name": name}})

    # --- bookkeeping ----------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self.cond:
            return self._rv

    def resolve(self, resource: ResourceType | str) -> ResourceType:
        return self.registry.resolve(resource)

    def register(self, rt: ResourceType) -> ResourceType:
        """Add a custom resource type (it then shows in discovery and is served)."""
        with self.cond:
            return self.registry.register(rt)

    def _bucket(self, rt: ResourceType) -> dict[tuple[str, str], dict]:
        return self._objects.setdefault(rt.key, {})

    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "default") if rt.namespaced else ""

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, rt: ResourceType, kind: str, obj: dict, pending: list[Event]) -> None:
        event = Event(int(obj["metadata"]["resourceVersion"]), kind, rt, obj)
        self._events.append(event)
        while len(self._events) > self._history:
            self._compacted = self._events.popleft().rv
        pending.append(event)

    def _publish(self, pending: list[Event]) -> None:
        for event in pending:
            for listener in list(self._listeners):
                listener(event)

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` after every change (in the changing thread, outside the lock)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def compact(self) -> int:
        """Forget the event history: watches from any older resourceVersion now get 410 Gone."""
        with self.cond:
            self._events.clear()
            self._compacted = self._rv
            return self._rv

    def expired(self, rv: int) -> bool:
        """True when the event history no longer reaches back to ``rv`` (a watch from it gets 410)."""
        with self.cond:
            return rv < self._compacted

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    # --- reads ----------------------------------------------------------------------------------------
    def _stored(self, rt: ResourceType, name: str, namespace: str | None) -> dict:
        obj = self._bucket(rt).get((self._ns(rt, namespace), name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def exists(self, resource, name: str, namespace: str | None = None) -> bool:
        rt = self.resolve(resource)
        with self.cond:
            return (self._ns(rt, namespace), name) in self._bucket(rt)

    def get(self, resource, name: str, namespace: str | None = None) -> dict:
        rt = self.resolve(resource)
        with self.cond:
            return copy.deepcopy(self._stored(rt, name, namespace))

    def list_with_version(
        self, resource, namespace: str | None = None, label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], int]:
        rt = self.resolve(resource)
        keep = matcher(label_selector, field_selector)
        with self.cond:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._bucket(rt).items())
                if (namespace is None or not rt.namespaced or ns == namespace) and keep(obj)
            ]
            return items, self._rv

    def list_json(self, resource, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> tuple[str, int]:
        """``list_with_version`` already serialised (JSON), made under the lock without copying each
        object first: a list of 1,000 pods answers several times faster (the sync benchmark lists them)."""
        rt = self.resolve(resource)
        keep = matcher(label_selector, field_selector)
        with self.cond:
            items = [
                obj
                for (ns, _), obj in sorted(self._bucket(rt).items())
                if (namespace is None or not rt.namespaced or ns == namespace) and keep(obj)
            ]
            return json.dumps(items, separators=(",", ":")), self._rv

    def snapshot(self, resource) -> list[dict]:
        """The stored objects themselves, no copies (fast, for simulations): READ ONLY, never mutate them."""
        rt = self.resolve(resource)
        with self.cond:
            return list(self._bucket(rt).values())

    def list(self, resource, namespace=None, label_selector=None, field_selector=None) -> list[dict]:
        return self.list_with_version(resource, namespace, label_selector, field_selector)[0]

    # --- writes ---------------------------------------------------------------------------------------
    def create(self, resource, body: dict, namespace: str | None = None) -> dict:
        rt = self.resolve(resource)
        pending: list[Event] = []
        with self.cond:
            if rt.namespaced:
                namespace = namespace or (body.get("metadata") or {}).get("namespace") or "default"
                if self.require_namespaces and ("", namespace) not in self._bucket(self.resolve("namespaces")):
                    raise errors.not_found("namespaces", "", namespace)
            obj = prepare_new(rt, body, namespace, self._rv + 1)
            validate(rt, obj)
            key = (self._ns(rt, namespace), obj["metadata"]["name"])
            if key in self._bucket(rt):
                raise errors.already_exists(rt.plural, rt.group, key[1])
            self._next_rv()
            self._bucket(rt)[key] = obj
            if rt.kind == "CustomResourceDefinition":  # serve what it declares, as the API server does
                for declared in from_crd(obj):
                    self.registry.register(declared)
            self._record(rt, "ADDED", obj, pending)
            self.cond.notify_all()
            result = copy.deepcopy(obj)
        self._publish(pending)
        return result

    def replace(self, resource, name: str, body: dict, namespace: str | None = None,
                subresource: str | None = None) -> dict:
        """PUT semantics: a stale ``metadata.resourceVersion`` in ``body`` is a 409 Conflict."""
        rt = self.resolve(resource)
        pending: list[Event] = []
        with self.cond:
            old = self._stored(rt, name, namespace)
            meta = (body or {}).get("metadata") or {}
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request("the name of the object does not match the name on the URL")
            wanted = meta.get("resourceVersion")
            if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            result = self._commit(rt, old, body, subresource, pending)
        self._publish(pending)
        return result

    def patch(self, resource, name: str, patch, namespace: str | None = None,
              content_type: str | None = "application/merge-patch+json", subresource: str | None = None) -> dict:
        rt = self.resolve(resource)
        pending: list[Event] = []
        with self.cond:
            old = self._stored(rt, name, namespace)
            new = apply_patch(old, patch, content_type)
            wanted = (new.get("metadata") or {}).get("resourceVersion")
            if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            result = self._commit(rt, old, new, subresource, pending)
        self._publish(pending)
        return result

    def update(self, resource, name: str, mutate: Callable[[dict], dict | None], namespace: str | None = None) -> dict:
        """Read-modify-write under the lock, any field (spec and status): the hook for a simulated kubelet.

        ``mutate`` gets a copy of the object and changes it in place or returns a replacement.
        """
        rt = self.resolve(resource)
        pending: list[Event] = []
        with self.cond:
            obj = copy.deepcopy(self._stored(rt, name, namespace))
            obj = mutate(obj) or obj
            result = self._commit(rt, self._stored(rt, name, namespace), obj, "*", pending)
        self._publish(pending)
        return result

    def _commit(self, rt: ResourceType, old: dict, body: dict, subresource: str | None,
                pending: list[Event]) -> dict:
        new = prepare_update(rt, old, body, self._rv + 1, subresource)
        validate(rt, new)
        validate_update(rt, old, new, subresource)
        if new == {**old, "metadata": {**old["metadata"], "resourceVersion": new["metadata"]["resourceVersion"]}}:
            return copy.deepcopy(old)  # a no-op write keeps the resourceVersion, as the API server does
        self._next_rv()
        meta = new["metadata"]
        self._bucket(rt)[(self._ns(rt, meta.get("namespace")), meta["name"])] = new
        self._record(rt, "MODIFIED", new, pending)
        self.cond.notify_all()
        return copy.deepcopy(new)

    def delete(self, resource, name: str, namespace: str | None = None) -> dict:
        """Remove at once and emit DELETED (no graceful termination); returns the deleted object."""
        rt = self.resolve(resource)
        pending: list[Event] = []
        with self.cond:
            self._stored(rt, name, namespace)
            result = self._delete_locked(rt, self._ns(rt, namespace), name, pending)
        self._publish(pending)
        return result

    def delete_collection(self, resource, namespace: str | None = None, label_selector: str | None = None,
                          field_selector: str | None = None) -> list[dict]:
        rt = self.resolve(resource)
        keep = matcher(label_selector, field_selector)
        pending: list[Event] = []
        with self.cond:
            keys = [k for k, obj in self._bucket(rt).items()
                    if (namespace is None or not rt.namespaced or k[0] == namespace) and keep(obj)]
            deleted = [self._delete_locked(rt, ns, name, pending) for ns, name in sorted(keys)]
        self._publish(pending)
        return deleted

    def _delete_locked(self, rt: ResourceType, ns: str, name: str, pending: list[Event]) -> dict:
        obj = self._bucket(rt).pop((ns, name))
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        gone["metadata"].setdefault("deletionTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self._record(rt, "DELETED", gone, pending)
        if rt.kind == "CustomResourceDefinition":  # its objects go with it
            for declared in from_crd(obj):
                self._objects.pop(declared.key, None)
                self.registry.unregister(declared)
        if rt.kind == "Pod" and not rt.group:
            for key in [k for k in self._logs if k[:2] == (ns, name)]:
                del self._logs[key]
        if rt.kind == "Namespace" and not rt.group:  # cascade, at once
            for other in self.registry.all():
                if other.namespaced:
                    for key in sorted(k for k in self._bucket(other) if k[0] == name):
                        self._delete_locked(other, key[0], key[1], pending)
        self.cond.notify_all()
        return copy.deepcopy(gone)

    # --- watch ----------------------------------------------------------------------------------------
    def events_after(self, rv: int, timeout: float) -> list[Event]:
        """Events newer than ``rv``, waiting up to ``timeout`` for one; raises 410 Gone when ``rv`` is too old."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if rv < self._compacted:
                    raise errors.gone(rv, self._compacted)
                if self._events and self._events[-1].rv > rv:
                    return [e for e in self._events if e.rv > rv]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return []
                self.cond.wait(remaining)

    # --- pod logs (appended by a simulated kubelet) ---------------------------------------------------
    def append_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self.cond:
            key = (namespace, pod, container)
            self._logs[key] = self._logs.get(key, "") + text
            self.cond.notify_all()

    def log_text(self, namespace: str, pod: str, container: str) -> str | None:
        with self.cond:
            return self._logs.get((namespace, pod, container))
