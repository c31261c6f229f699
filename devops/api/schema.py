"""OpenAPI post-processing: every operation documents the error answers it can give, in one shape.

drf-spectacular documents the success responses a view declares; the errors (400 validation, 401/403
auth and roles, 404 not visible, 409 conflicts, 429) come from ``devops.api.errors`` for every view,
so they are added here once instead of on each view. Clients and schemathesis then know that every
4xx body is ``{"detail": str, "errors"?: {field: [str]}}``.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["detail"],
}
_ERRORS = {
    "400": "Invalid input: `detail` summarises, `errors` names each field",
    "401": "Not authenticated",
    "403": "Authenticated, but the role in the project does not allow this",
    "404": "No such object, or not visible to you",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Conflicts with the object's current state",
    "415": "Unsupported media type",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code, description in _ERRORS.items():
                content = {"application/json": {"schema": ref}}
                responses.setdefault(code, {"description": description, "content": content})
    return result
