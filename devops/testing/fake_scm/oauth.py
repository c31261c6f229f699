"""The fake's OAuth token endpoints and current-user endpoints for GitHub, GitLab and Bitbucket Cloud.

There is no authorize page: a test takes the authorize URL our login view redirects to, registers a
code in ``fake.oauth_codes`` (code -> login) and calls our callback with it, as the provider's
redirect would. What the real token endpoints check is checked here too: the client id and secret
(``fake.oauth_clients``), one use per code, and refresh tokens that rotate (``fake.refresh_tokens``:
the old one is gone once used). Answers and errors are shaped like each provider's.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any
from urllib.parse import urlencode

from .server import FakeScm, FakeUser, Reply, Request, route

GITHUB_DOCS = "https://docs.github.com/rest"


# --- shared -------------------------------------------------------------------------------------------
def _params(req: Request) -> dict[str, str]:
    """Form body, JSON body or query string: token endpoints accept all three."""
    params = dict(req.query)
    if req.headers.get("content-type", "").startswith("application/json"):
        body = req.json()
        if isinstance(body, dict):
            params.update({k: str(v) for k, v in body.items()})
    elif req.body:
        params.update(req.form())
    return params


def _basic_client(req: Request) -> tuple[str, str] | None:
    scheme, _, rest = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(rest).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def _client_ok(fake: FakeScm, client_id: str | None, secret: str | None) -> bool:
    expected = fake.oauth_clients.get(client_id or "")
    return expected is not None and secrets.compare_digest(expected, secret or "")


def _grant(fake: FakeScm, params: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    """(error code, token answer): consume the code or the refresh token, then issue new tokens."""
    grant = params.get("grant_type") or "authorization_code"
    if grant == "refresh_token":
        login = fake.refresh_tokens.pop(params.get("refresh_token", ""), None)
    elif grant == "authorization_code":
        login = fake.oauth_codes.pop(params.get("code", ""), None)
    else:
        return "unsupported_grant_type", {}
    if login is None or login not in fake.users:
        return "invalid_grant", {}
    return None, fake.issue_tokens(login)


def _token_user(fake: FakeScm, req: Request) -> FakeUser | None:
    """The user of ``Authorization`` (Bearer/token) or of an ``access_token`` query parameter."""
    user = fake.user_for(req)
    if user is None and req.query.get("access_token"):
        token = req.query["access_token"]
        user = next((u for u in fake.users.values() if secrets.compare_digest(u.token, token)), None)
    return user


# --- GitHub (Enterprise Server layout: OAuth at the root, the API under /api/v3) ------------------------
def _github_error(code: str, description: str) -> Reply:
    # GitHub answers token errors with 200 and an ``error`` field.
    return Reply(200, {"error": code, "error_description": description, "error_uri": f"{GITHUB_DOCS}#{code}"})


@route("github", "POST", r"/login/oauth/access_token")
def github_access_token(fake: FakeScm, req: Request) -> Reply:
    params = _params(req)
    if not _client_ok(fake, params.get("client_id"), params.get("client_secret")):
        return _github_error("incorrect_client_credentials",
                             "The client_id and/or client_secret passed are incorrect.")
    if "grant_type" not in params and "refresh_token" in params:
        params["grant_type"] = "refresh_token"
    error, answer = _grant(fake, params)
    if error == "invalid_grant" and params.get("grant_type") == "refresh_token":
        return _github_error("bad_refresh_token", "The refresh token passed is incorrect or expired.")
    if error:
        return _github_error("bad_verification_code", "The code passed is incorrect or expired.")
    if fake.token_lifetime is not None:
        answer["refresh_token_expires_in"] = 15897600
    if "application/json" in req.headers.get("accept", ""):
        return Reply(200, answer)
    return Reply(200, raw=urlencode(answer).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})


def _github_unauthorized() -> Reply:
    return Reply(401, {"message": "Bad credentials", "documentation_url": GITHUB_DOCS, "status": "401"})


@route("github", "GET", r"/api/v3/user")
def github_user(fake: FakeScm, req: Request) -> Reply:
    user = _token_user(fake, req)
    if user is None:
        return _github_unauthorized()
    return Reply(200, {
        "login": user.login,
        "id": user.user_id,
        "node_id": base64.b64encode(f"04:User{user.user_id}".encode()).decode(),
        "avatar_url": f"{fake.url}/avatars/u/{user.user_id}",
        "url": f"{fake.url}/api/v3/users/{user.login}",
        "html_url": f"{fake.url}/{user.login}",
        "type": "User",
        "site_admin": False,
        "name": user.name,
        "email": None,  # a private email: clients have to ask /user/emails
    })


@route("github", "GET", r"/api/v3/user/emails")
def github_user_emails(fake: FakeScm, req: Request) -> Reply:
    user = _token_user(fake, req)
    if user is None:
        return _github_unauthorized()
    return Reply(200, [{"email": user.email, "primary": True, "verified": True, "visibility": "private"}])


# --- GitLab ---------------------------------------------------------------------------------------------
@route("gitlab", "POST", r"/oauth/token")
def gitlab_token(fake: FakeScm, req: Request) -> Reply:
    params = _params(req)
    client_id, secret = _basic_client(req) or (params.get("client_id"), params.get("client_secret"))
    if not _client_ok(fake, client_id, secret):
        return Reply(401, {"error": "invalid_client", "error_description": (
            "Client authentication failed due to unknown client, no client authentication included, "
            "or unsupported authentication method.")})
    error, answer = _grant(fake, params)
    if error:
        return Reply(400, {"error": error, "error_description": (
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection "
            "URI used in the authorization request, or was issued to another client.")})
    answer.update(token_type="Bearer", scope="api", created_at=1700000000)
    return Reply(200, answer)


@route("gitlab", "GET", r"/api/v4/user")
def gitlab_user(fake: FakeScm, req: Request) -> Reply:
    user = _token_user(fake, req)
    if user is None:
        return Reply(401, {"message": "401 Unauthorized"})
    return Reply(200, {
        "id": user.user_id,
        "username": user.login,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": f"{fake.url}/uploads/-/system/user/avatar/{user.user_id}/avatar.png",
        "web_url": f"{fake.url}/{user.login}",
        "email": user.email,
        "public_email": "",
        "bot": False,
    })


# --- Bitbucket Cloud (OAuth under /site/oauth2, the API under /2.0) -------------------------------------
@route("bitbucket", "POST", r"/site/oauth2/access_token")
def bitbucket_access_token(fake: FakeScm, req: Request) -> Reply:
    client = _basic_client(req)
    if client is None or not _client_ok(fake, *client):
        return Reply(400, {"error": "invalid_client", "error_description": "Invalid OAuth client credentials"})
    params = _params(req)
    error, answer = _grant(fake, params)
    if error:
        description = "Invalid refresh_token" if params.get("grant_type") == "refresh_token" else (
            "The specified code is not valid.")
        return Reply(400, {"error": error, "error_description": description})
    answer.pop("scope", None)
    answer.update(scopes="repository webhook account email", token_type="bearer",
                  state=params.get("grant_type") or "authorization_code")
    return Reply(200, answer)


def _bitbucket_unauthorized() -> Reply:
    return Reply(401, {"type": "error", "error": {"message": "Access token expired or invalid."}})


def _bitbucket_uuid(user: FakeUser) -> str:
    return "{" + f"{user.user_id:08x}-0000-4000-8000-{user.user_id:012x}" + "}"


@route("bitbucket", "GET", r"/2.0/user")
def bitbucket_user(fake: FakeScm, req: Request) -> Reply:
    user = _token_user(fake, req)
    if user is None:
        return _bitbucket_unauthorized()
    return Reply(200, {
        "type": "user",
        "uuid": _bitbucket_uuid(user),
        "account_id": f"5d5355e8c6b9320d9ea5{user.user_id:04d}",
        "username": user.login,
        "nickname": user.login,
        "display_name": user.name,
        "account_status": "active",
        "created_on": "2024-01-02T03:04:05.000000+00:00",
        "links": {
            "self": {"href": f"{fake.url}/2.0/users/{_bitbucket_uuid(user)}"},
            "html": {"href": f"{fake.url}/{_bitbucket_uuid(user)}/"},
            "avatar": {"href": f"{fake.url}/account/{user.login}/avatar/"},
        },
    })


@route("bitbucket", "GET", r"/2.0/user/emails")
def bitbucket_user_emails(fake: FakeScm, req: Request) -> Reply:
    user = _token_user(fake, req)
    if user is None:
        return _bitbucket_unauthorized()
    values = [{
        "type": "email",
        "email": user.email,
        "is_primary": True,
        "is_confirmed": True,
        "links": {"self": {"href": f"{fake.url}/2.0/user/emails/{user.email}"}},
    }]
    return Reply(200, {"pagelen": 10, "values": values, "page": 1, "size": len(values)})


# --- Gitea (OAuth2 provider at /login/oauth/*; errors as 400 with RFC 6749 bodies) ------------------------
@route("gitea", "POST", r"/login/oauth/access_token")
def gitea_access_token(fake: FakeScm, req: Request) -> Reply:
    params = _params(req)
    if not _client_ok(fake, params.get("client_id"), params.get("client_secret")):
        return Reply(400, {"error": "unauthorized_client", "error_description": "invalid client credentials"})
    error, answer = _grant(fake, params)
    if error:
        return Reply(400, {"error": error, "error_description": "the grant is invalid or expired"})
    return Reply(200, answer)
