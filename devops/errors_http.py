"""Site-wide 404/500 answers: JSON for API and webhook clients, the HTML page for people.

DRF answers its own errors in JSON, but a path that matches no route never reaches a view; for
``/api/`` and ``/hooks/`` that would be Django's HTML page, which no API client can read.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

_MACHINE_PREFIXES = ("/api/", "/hooks/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(_MACHINE_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(_MACHINE_PREFIXES):
        return JsonResponse({"detail": "Internal server error; the event is logged."}, status=500)
    return defaults.server_error(request)
