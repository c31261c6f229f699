"""Verbs: what each (method, target) does to the store, and the reply it makes (JSON, text, or a stream)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from . import logs
from .errors import ApiError, bad_request, success
from .routes import Target
from .selectors import matcher
from .store import Store

JSON = "application/json"
TEXT = "text/plain"


@dataclass
class Reply:
    code: int
    body: dict | str
    content_type: str = JSON


@dataclass
class Stream:
    chunks: Iterator[str]
    content_type: str = JSON


def verb_of(method: str, target: Target, query: dict[str, str]) -> str:
    collection = target.name is None
    if method == "GET":
        if (query.get("watch") or "").lower() in ("true", "1"):
            return "watch"
        return "list" if collection else "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "deletecollection" if collection else "delete"
    raise ApiError(405, f"the server does not allow this method on the requested resource ({method})")


def parse_body(raw: bytes, content_type: str | None) -> object:
    if not raw.strip():
        raise bad_request("the request body is empty")
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        if "yaml" in (content_type or ""):
            import yaml

            return yaml.safe_load(text)
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


def _int(query: dict[str, str], key: str) -> int | None:
    if query.get(key) in (None, ""):
        return None
    try:
        return int(query[key])
    except ValueError as exc:
        raise bad_request(f"invalid {key} {query[key]!r}") from exc


def handle(store: Store, method: str, target: Target, query: dict[str, str], raw: bytes,
           content_type: str | None, max_watch_seconds: float) -> Reply | Stream:
    verb = verb_of(method, target, query)
    rt, ns, name, sub = target.rt, target.namespace, target.name, target.subresource
    if verb not in rt.verbs and sub is None:
        raise ApiError(405, f"the server does not allow this method on the requested resource ({rt.plural})")
    if rt.kind == "Binding" and not rt.group:  # POST .../bindings: the scheduler's way to bind a pod
        body = parse_body(raw, content_type)
        pod = ((body.get("metadata") or {}).get("name") if isinstance(body, dict) else None) or ""
        return _bind(store, Target(store.resolve("pods"), ns, pod, "binding"), body)
    if sub == "log":
        if verb != "get":
            raise ApiError(405, "the log subresource only answers GET", "MethodNotAllowed")
        return _log(store, target, query, max_watch_seconds)
    if verb == "watch":
        return Stream(watch_stream(store, target, query, max_watch_seconds))
    if verb == "list":
        return Reply(200, _list(store, target, query))
    if verb == "get":
        return Reply(200, store.get(rt, name, ns))
    if verb == "create":
        if sub == "binding":
            return _bind(store, target, parse_body(raw, content_type))
        if name is not None:
            raise ApiError(405, f"POST is not allowed on a named {rt.plural} resource", "MethodNotAllowed")
        return Reply(201, store.create(rt, parse_body(raw, content_type), ns))
    if verb == "update":
        return Reply(200, store.replace(rt, name, parse_body(raw, content_type), ns, sub))
    if verb == "patch":
        body = parse_body(raw, content_type)
        if "apply-patch" in (content_type or "") and sub is None and not store.exists(rt, name, ns):
            return Reply(201, store.create(rt, {**body, "metadata": {**(body.get("metadata") or {}), "name": name}},
                                           ns))  # server-side apply creates what is missing
        return Reply(200, store.patch(rt, name, body, ns, content_type, sub))
    if verb == "delete":
        gone = store.delete(rt, name, ns)
        if rt.kind == "Pod" or rt.group not in ("", "apps", "rbac.authorization.k8s.io"):
            return Reply(200, gone)
        return Reply(200, success(name, rt.plural, rt.group, gone["metadata"]["uid"]))
    deleted = store.delete_collection(rt, ns, query.get("labelSelector"), query.get("fieldSelector"))
    return Reply(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                       "metadata": {"resourceVersion": str(store.resource_version)}, "items": deleted})


def _list(store: Store, target: Target, query: dict[str, str]) -> dict | str:
    """A list; with ``limit``, pages chained by an opaque ``continue`` token (expired once history compacts)."""
    rt = target.rt
    if not query.get("limit") and not query.get("continue"):
        items_json, rv = store.list_json(rt, target.namespace, query.get("labelSelector"), query.get("fieldSelector"))
        meta = {"resourceVersion": str(rv)}
        head = json.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta}, separators=(",", ":"))
        return head[:-1] + ',"items":' + items_json + "}"
    items, rv = store.list_with_version(rt, target.namespace, query.get("labelSelector"), query.get("fieldSelector"))
    meta: dict = {"resourceVersion": str(rv)}
    token = query.get("continue")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            after, since = tuple(state["after"]), int(state["rv"])
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_request("continue key is not valid") from exc
        if store.expired(since):
            raise ApiError(410, "The provided continue parameter is too old to display a consistent list result. "
                                "You can start a new list without the continue parameter.", "Expired")
        items = [o for o in items if _sort_key(o) > after]
    limit = _int(query, "limit")
    if limit and len(items) > limit:
        state = {"after": list(_sort_key(items[limit - 1])), "rv": rv}
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}


def _sort_key(obj: dict) -> tuple[str, str]:
    return (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])


def _bind(store: Store, target: Target, body: object) -> Reply:
    node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
    if not node:
        raise bad_request("a binding needs target.name")

    def bind(pod: dict) -> None:
        if pod["spec"].get("nodeName"):
            raise ApiError(409, f"pod {pod['metadata']['name']} is already assigned to node "
                                f"\"{pod['spec']['nodeName']}\"", "Conflict")
        pod["spec"]["nodeName"] = node
        conditions = pod.setdefault("status", {}).setdefault("conditions", [])
        conditions.append({"type": "PodScheduled", "status": "True"})

    store.update("pods", target.name, bind, target.namespace)
    # The real server answers a Status here, which the python client cannot deserialize into V1Binding
    # (kubernetes-client/python#825); echoing the Binding keeps create_namespaced_binding usable.
    return Reply(201, {"apiVersion": "v1", "kind": "Binding", **body})


def _log(store: Store, target: Target, query: dict[str, str], max_seconds: float) -> Reply | Stream:
    container, text = logs.read(store, target.namespace or "default", target.name, query.get("container"),
                                _int(query, "tailLines"), _int(query, "limitBytes"))
    if (query.get("follow") or "").lower() in ("true", "1"):
        chunks = logs.follow(store, target.namespace or "default", target.name, container, text, max_seconds)
        return Stream(chunks, TEXT)
    return Reply(200, text, TEXT)


def _line(kind: str, obj: dict) -> str:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"


def watch_stream(store: Store, target: Target, query: dict[str, str], max_seconds: float) -> Iterator[str]:
    rt, ns = target.rt, target.namespace
    field_selector = query.get("fieldSelector")
    if target.name:
        field_selector = ",".join(filter(None, [field_selector, f"metadata.name={target.name}"]))
    keep = matcher(query.get("labelSelector"), field_selector)  # a bad selector fails before the stream starts
    timeout = _int(query, "timeoutSeconds")
    timeout = max_seconds if timeout is None else min(max(timeout, 0), max_seconds)
    deadline = time.monotonic() + timeout
    start = query.get("resourceVersion") or "0"
    rv = None if start == "0" else _int(query, "resourceVersion")

    def events() -> Iterator[str]:
        nonlocal rv
        if rv is None:  # no version: the current state as ADDED events first
            items, rv = store.list_with_version(rt, ns, query.get("labelSelector"), field_selector)
            for obj in items:
                yield _line("ADDED", obj)
        drained = False  # what is already there is always sent, even with timeoutSeconds=0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and drained:
                return
            drained = True
            try:
                batch = store.events_after(rv, max(0.0, remaining))
            except ApiError as exc:
                yield _line("ERROR", exc.status())
                return
            if not batch:
                return
            for event in batch:
                rv = event.rv
                if event.rt.key == rt.key and (ns is None or event.namespace == ns) and keep(event.obj):
                    yield _line(event.type, event.obj)

    return events()
