"""Signed deliveries for every provider, built from the documented payload fixtures in tests/scm/fixtures.

``push(provider, secret, branch=, sha=, delivery_id=)`` and friends return ``(headers, body)`` exactly
as the provider would send them, with the fixture's ref, commit and delivery id replaced and the
provider's own signature (HMAC header or token) computed with ``secret``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "scm" / "fixtures"
PROVIDERS = ("github", "gitea", "gitlab", "bitbucket", "bitbucket-server")
_DIRS = {"bitbucket-server": "bitbucket_server"}


def _load(provider: str, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    folder = FIXTURES / _DIRS.get(provider, provider)
    body = json.loads((folder / f"{name}.json").read_text())
    headers = json.loads((folder / "headers.json").read_text())[name]
    return dict(headers), body


def _hex(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def sign(provider: str, secret: str, headers: dict[str, str], raw: bytes) -> dict[str, str]:
    signed = {k: v for k, v in headers.items() if "signature" not in k.lower() and k.lower() != "x-gitlab-token"}
    if provider == "github":
        signed["X-Hub-Signature-256"] = "sha256=" + _hex(secret, raw)
    elif provider == "gitea":
        signed["X-Gitea-Signature"] = _hex(secret, raw)
    elif provider == "gitlab":
        signed["X-Gitlab-Token"] = secret
    else:  # Bitbucket Cloud and Server
        signed["X-Hub-Signature"] = "sha256=" + _hex(secret, raw)
    return signed


def _with_delivery_id(provider: str, headers: dict[str, str], delivery_id: str) -> dict[str, str]:
    keys = {
        "github": ["X-GitHub-Delivery"],
        "gitea": ["X-Gitea-Delivery", "X-GitHub-Delivery", "X-Gogs-Delivery"],
        "gitlab": ["X-Gitlab-Event-UUID", "Idempotency-Key"],
        "bitbucket": ["X-Request-UUID"],
        "bitbucket-server": ["X-Request-Id"],
    }[provider]
    out = {k: v for k, v in headers.items() if k not in keys}
    for key in keys:
        out[key] = delivery_id
    return out


def _finish(provider: str, secret: str, headers: dict[str, str], body: dict[str, Any], delivery_id: str | None):
    raw = json.dumps(body).encode()
    headers = _with_delivery_id(provider, headers, delivery_id or str(uuid.uuid4()))
    return sign(provider, secret, headers, raw), raw


def push(provider: str, secret: str, *, branch: str, sha: str, delivery_id: str | None = None):
    headers, body = _load(provider, "push")
    body = copy.deepcopy(body)
    if provider in ("github", "gitea"):
        body["ref"], body["after"] = f"refs/heads/{branch}", sha
        if body.get("head_commit"):
            body["head_commit"]["id"] = sha
    elif provider == "gitlab":
        body["ref"], body["after"], body["checkout_sha"] = f"refs/heads/{branch}", sha, sha
    elif provider == "bitbucket":
        new = body["push"]["changes"][0]["new"]
        new["name"], new["target"]["hash"] = branch, sha
    else:
        change = body["changes"][0]
        change["ref"].update(id=f"refs/heads/{branch}", displayId=branch)
        change["refId"], change["toHash"] = f"refs/heads/{branch}", sha
    return _finish(provider, secret, headers, body, delivery_id)


def fixture(provider: str, name: str, secret: str, delivery_id: str | None = None):
    """Any fixture as-is (its own refs and commits), signed."""
    headers, body = _load(provider, name)
    return _finish(provider, secret, headers, body, delivery_id)


def github_pull_request(secret: str, *, target: str, head_sha: str, source: str, number: int = 7,
                        action: str = "opened", delivery_id: str | None = None):
    headers, body = _load("github", "pull_request_opened")
    body = copy.deepcopy(body)
    body["action"], body["number"] = action, number
    pr = body["pull_request"]
    pr["number"] = number
    pr["base"]["ref"] = target
    pr["head"].update(ref=source, sha=head_sha)
    return _finish("github", secret, headers, body, delivery_id)
