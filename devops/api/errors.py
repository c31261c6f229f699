"""Every API error is JSON that says what was wrong and where.

Shape: ``{"detail": "<summary>", "errors": {"<field or path>": ["<message>", ...]}}``; ``errors`` is
present for validation failures and names each field (nested ones as ``stages.0.name``).
``devops.access`` exceptions become 404 (not visible: no existence leak) and 403 (role too low);
Django's ValidationError (model and service validation) becomes 400.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from devops.access import NotAllowed, NotVisible


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(errors, list) and errors and all(isinstance(e, (str, exceptions.ErrorDetail)) for e in errors):
        out[prefix or "non_field_errors"] = [str(e) for e in errors]
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            for k, v in _flatten(value, f"{prefix}.{i}" if prefix else str(i)).items():
                out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(errors)]
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    first_field, messages = next(iter(fields.items()))
    where = "" if first_field == "non_field_errors" else f"{first_field}: "
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return f"{where}{messages[0]}{more}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, NotVisible):
        exc = exceptions.NotFound()
    elif isinstance(exc, NotAllowed):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError) or response.status_code == status.HTTP_400_BAD_REQUEST:
        fields = _flatten(data) if not (isinstance(data, dict) and set(data) == {"detail"}) else {}
        if fields:
            response.data = {"detail": _summary(fields), "errors": fields}
        elif isinstance(data, dict) and "detail" in data:
            response.data = {"detail": str(data["detail"])}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"detail": str(data["detail"]), **{k: v for k, v in data.items() if k != "detail"}}
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(e) for e in data)}
    return response
