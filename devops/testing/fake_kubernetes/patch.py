"""Patches: JSON merge patch (RFC 7386; strategic merge and apply are treated as it) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy

from .errors import ApiError, bad_request

MERGE_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+json",
)
JSON_PATCH = "application/json-patch+json"


def merge_patch(target: object, patch: object) -> object:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: object, parts: list[str]) -> tuple[object, str]:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _get(doc: object, parts: list[str]) -> object:
    node = doc
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _add(doc: object, parts: list[str], value: object) -> object:
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc: object, parts: list[str]) -> object:
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        parent.pop(int(last))
    else:
        del parent[last]
    return doc


def json_patch(target: object, operations: object) -> object:
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                doc = _remove(doc, parts)
            elif kind == "replace":
                _get(doc, parts)  # must exist
                doc = _add(_remove(doc, parts), parts, copy.deepcopy(op["value"])) if parts else op["value"]
            elif kind == "test":
                if _get(doc, parts) != op["value"]:
                    raise ApiError(422, f"testing value {op['path']} failed", "Invalid")
            elif kind in ("move", "copy"):
                source = _pointer(op["from"])
                value = copy.deepcopy(_get(doc, source))
                if kind == "move":
                    doc = _remove(doc, source)
                doc = _add(doc, parts, value)
            else:
                raise bad_request(f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, f"the JSON patch could not be applied: {op!r}: {exc!r}", "Invalid") from exc
    return doc


def apply_patch(target: dict, patch: object, content_type: str | None) -> dict:
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type == JSON_PATCH or (not content_type and isinstance(patch, list)):
        result = json_patch(target, patch)
    elif content_type in MERGE_TYPES or not content_type or content_type == "application/json":
        result = merge_patch(target, patch)
    else:
        raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                            f"{', '.join((JSON_PATCH, *MERGE_TYPES))}", "UnsupportedMediaType")
    if not isinstance(result, dict):
        raise ApiError(422, "the patch did not produce an object", "Invalid")
    return result
