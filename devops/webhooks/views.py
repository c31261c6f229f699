"""The HTTP edges of the webhook endpoints: read a bounded body, call the service, answer JSON."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from devops.ops.metrics import observe_intake

from . import intake


def _bounded_body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is larger than WEBHOOK_MAX_BYTES (read at most one byte more)."""
    limit = settings.WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _too_large() -> JsonResponse:
    return JsonResponse({"detail": f"payload exceeds {settings.WEBHOOK_MAX_BYTES} bytes"}, status=413)


@csrf_exempt
@observe_intake("pipeline")  # devops_webhook_deliveries_total, devops_webhook_intake_seconds
@require_POST
def pipeline_hook(request: HttpRequest, pipeline_id: int) -> JsonResponse:
    body = _bounded_body(request)
    if body is None:
        return _too_large()
    answer = intake.receive(pipeline_id, request.headers, body)
    return JsonResponse(answer.body, status=answer.status)


@csrf_exempt
@observe_intake("image")  # devops_webhook_deliveries_total, devops_webhook_intake_seconds
@require_POST
def image_hook(request: HttpRequest, token: str) -> JsonResponse:
    from .images import receive_image_push

    body = _bounded_body(request)
    if body is None:
        return _too_large()
    status, payload = receive_image_push(token, {k.lower(): v for k, v in request.headers.items()}, body)
    return JsonResponse(payload, status=status)
