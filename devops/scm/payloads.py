"""Reading incoming webhook deliveries safely, for every provider.

A delivery is untrusted input from the internet: its body may be anything, and the names it carries
(branches, tags, commit ids) end up as git arguments. Every reader here either returns a value of the
expected type or raises ``WebhookRejected`` with a 400 (malformed) or 401 (unauthenticated) whose
message names the field or header, prefixed with the provider's label (``GitHub delivery: ...``).
No network, no database: the providers' ``verify``/``parse`` are built from these.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

from .base import WebhookRejected, hmac_sha256_hex, require_equal

ZERO_SHA = re.compile(r"^0+$")
# A full commit id: SHA-1 (40) or SHA-256 (64) hex.
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# git check-ref-format's rules, plus no leading dash: the names end up as git arguments.
_BAD_REF = re.compile(r"(^-|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{|^/|/$|//|\.lock$|\.$)")
REF_MAX = 255
DELIVERY_ID_MAX = 200


# --- authentication ------------------------------------------------------------------------------------
def require_secret(secret: str) -> None:
    """An empty key would let anyone sign a delivery (or send an empty token): refuse rather than compare."""
    if not secret:
        raise WebhookRejected(401, "the pipeline has no webhook secret: deliveries cannot be verified")


def require_signature(secret: str, body: bytes, given: str | None, header: str, *, prefix: str = "sha256=") -> None:
    """``given`` must be ``prefix`` + the hex HMAC-SHA256 of the body keyed with ``secret`` (constant time)."""
    require_secret(secret)
    require_equal(prefix + hmac_sha256_hex(secret, body), given, header)


# --- bodies --------------------------------------------------------------------------------------------
def load_json(body: bytes | str, label: str) -> dict[str, Any]:
    """The delivery's JSON object; anything else (not JSON, not UTF-8, a list) is a 400."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, f"{label} delivery: body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, f"{label} delivery: body is not a JSON object")
    return data


def load_payload(headers: Mapping[str, str], body: bytes, label: str) -> dict[str, Any]:
    """The JSON object of a delivery; a form-encoded body carries it in its ``payload`` field.

    GitHub (and Gitea) let a webhook use ``application/x-www-form-urlencoded``; the signature then
    covers the form body, so this runs after ``verify`` on the raw bytes.
    """
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    form = content_type == "application/x-www-form-urlencoded" or (not content_type and body.startswith(b"payload="))
    if not form:
        return load_json(body, label)
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, f"{label} delivery: malformed form body") from None
    values = fields.get("payload")
    if not values:
        raise WebhookRejected(400, f"{label} delivery: form body without a payload field")
    return load_json(values[0], label)


# --- fields --------------------------------------------------------------------------------------------
def field(data: Mapping[str, Any], path: str, label: str, kind: type = str) -> Any:
    """``data[a][b]...`` for ``path`` "a.b", or a 400 naming the missing (or null) or mistyped field."""
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, Mapping) or value.get(key) is None:
            raise WebhookRejected(400, f"{label} delivery: missing field {path}")
        value = value[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WebhookRejected(400, f"{label} delivery: field {path} is not a {kind.__name__}")
    return value


def objects(data: Mapping[str, Any], path: str, label: str) -> Iterator[dict[str, Any]]:
    """The items of the list at ``path`` (Bitbucket's ref changes); an item that is not an object is a
    400 when it is reached, so a reader that stops at the first it builds ignores what follows."""
    for item in field(data, path, label, list):
        if not isinstance(item, dict):
            raise WebhookRejected(400, f"{label} delivery: {path} holds a non-object")
        yield item


def as_list(value: object) -> list[Any]:
    """A provider's list field, or an empty one when it answered something else there (never a crash)."""
    return value if isinstance(value, list) else []


def optional(data: Mapping[str, Any], path: str) -> str:
    """A nested string field that may be absent or null (head_commit on a tag-only push); else empty."""
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(key)
    return value if isinstance(value, str) else ""


def checked_ref(name: str, what: str, label: str) -> str:
    """A branch or tag name git accepts and that cannot be read as an option."""
    if not name or len(name) > REF_MAX or _BAD_REF.search(name):
        raise WebhookRejected(400, f"{label} delivery: invalid {what} name {name!r}")
    return name


def checked_sha(sha: str, path: str, label: str) -> str:
    """A full commit id, lower-cased; ``path`` names the field in the message."""
    sha = sha.lower()
    if not SHA.match(sha):
        raise WebhookRejected(400, f"{label} delivery: field {path} is not a commit id")
    return sha


# --- delivery ids ----------------------------------------------------------------------------------------
def body_digest(body: bytes) -> str:
    """A delivery id for senders without one: a redelivery carries the same body, another event not."""
    return "sha256-" + hashlib.sha256(body).hexdigest()


def delivery_id(headers: Mapping[str, str], body: bytes, *names: str) -> str:
    """The first non-empty of the (lower-cased) ``names`` headers, else a digest of the body.

    List the header that stays the same when the provider retries a delivery first.
    """
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value[:DELIVERY_ID_MAX]
    return body_digest(body)
