"""One HTTP client for every provider API: timeouts, TLS verification on, errors without secrets.

Providers differ in how they page (a ``Link`` header, a ``next`` URL in the body, ``nextPageStart``);
``ApiClient`` leaves paging to them and only does the request, the auth header and the error mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from .base import ProviderError

TIMEOUT_SECONDS = 15
MAX_PAGES = 200


class ApiClient:
    def __init__(self, base_url: str, auth_header: str | None, *, provider: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "devops-ci"
        self.session.headers["Accept"] = "application/json"
        if auth_header:
            self.session.headers["Authorization"] = auth_header

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, ok_missing: bool = False, **kwargs: Any
    ) -> requests.Response | None:
        """The response, or None for a 404 when ``ok_missing``; any other failure is a ProviderError."""
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        kwargs["verify"] = True
        try:
            response = self.session.request(method, self.url(path), **kwargs)
        except requests.RequestException as exc:
            # The exception text can hold the URL but never the Authorization header.
            raise ProviderError(f"{self.provider} API unreachable: {type(exc).__name__}") from None
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code >= 400:
            raise ProviderError(
                f"{self.provider} API {method} {path.split('?')[0]} answered {response.status_code}: "
                f"{_error_text(response)}",
                status=response.status_code,
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response is not None
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.provider} API {method} {path} answered with invalid JSON") from None

    def link_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Follow RFC 5988 ``Link: <...>; rel="next"`` (GitHub, GitLab, Gitea)."""
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, params=params)
            assert response is not None
            yield response.json()
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries them


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:200]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"][:200]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))[:200]
    return response.reason
