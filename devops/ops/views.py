"""The operators' endpoints: /healthz (alive), /readyz (dependencies reachable), /metrics (Prometheus).

Thin edges over health.py and metrics.py; none needs a session or a user (probes and scrapers have
neither), and none touches the session or CSRF machinery.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health, metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers HTTP: nothing else is checked (a dead database is not cured by a restart)."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 {"ok": true, "checks": {...}} or 503 with the failing dependencies named and why."""
    ok, checks = health.readiness()
    body: dict[str, object] = {"ok": ok, "checks": checks}
    if not ok:
        failed = [name for name, result in checks.items() if not result["ok"]]
        body["failed"] = failed
        reasons = (f"{name.replace('_', ' ')}: {checks[name]['detail']}" for name in failed)
        body["detail"] = "not ready: " + "; ".join(reasons)
    return JsonResponse(body, status=200 if ok else 503)


def _authorized(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; with METRICS_TOKEN set, only for ``Authorization: Bearer <token>``."""
    if not _authorized(request):
        response = JsonResponse({"detail": "metrics need Authorization: Bearer <METRICS_TOKEN>"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # The classic text format (what generate_latest writes, with legacy-safe names): every Prometheus
    # version reads it.
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
