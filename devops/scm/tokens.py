"""OAuth refresh grants against a provider's token endpoint, and reading their answers into a TokenSet.

GitHub, GitLab, Gitea and Bitbucket Cloud all speak RFC 6749's refresh grant; they differ only in the
endpoint's path and in how the client authenticates (form fields or HTTP Basic). What comes back is
checked here once: a missing access token or an ``error`` code (GitHub answers a refused refresh with
status 200) is a ``ProviderError`` whose message never holds a token or the client secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import ProviderError, TokenSet
from .http import ApiClient


def expiry(answer: Mapping[str, Any]) -> datetime | None:
    """When the access token expires, from ``expires_in`` seconds (a number, or digits as form-encoded
    answers send them); None when it does not say."""
    seconds = answer.get("expires_in")
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return datetime.now(UTC) + timedelta(seconds=seconds)
    return None


def token_set(answer: Any, label: str) -> TokenSet:
    """A token endpoint's JSON answer as a TokenSet; a refresh token, when given, replaces the old one."""
    if not isinstance(answer, Mapping):
        raise ProviderError(f"{label}: the token endpoint answered with no JSON object")
    if answer.get("error"):
        raise ProviderError(f"{label} refused the token refresh: {str(answer['error'])[:100]}")
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderError(f"{label}: the token endpoint answered without an access token")
    refresh = answer.get("refresh_token")
    return TokenSet(access, refresh if isinstance(refresh, str) else "", expiry(answer))


def refresh_grant(
    base_url: str,
    path: str,
    label: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    basic_auth: bool = False,
) -> TokenSet:
    """POST ``grant_type=refresh_token`` to ``base_url/path``; the client authenticates with form fields,
    or with HTTP Basic when ``basic_auth`` (Bitbucket Cloud's OAuth consumers)."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    auth: tuple[str, str] | None = None
    if basic_auth:
        auth = (client_id, client_secret)
    else:
        data.update(client_id=client_id, client_secret=client_secret)
    answer = ApiClient(base_url, None, provider=label).json("POST", path, data=data, auth=auth)
    return token_set(answer, label)
