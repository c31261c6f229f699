"""The contract every source code provider implements, and the values that cross it.

A provider does two unrelated jobs, kept apart here: reading *incoming* webhook deliveries (detect,
verify, parse: pure functions of headers and body, no network) and calling the provider's *API*
(repositories, files, commits, webhooks, commit statuses, token refresh). Plain git has no API; it
answers ``has_api = False`` and the callers skip what needs one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

HookKind = Literal["push", "tag", "pull_request", "ping", "ignored"]
StatusState = Literal["pending", "success", "failure", "error"]


class ProviderError(Exception):
    """A provider API call failed; the message is safe to show (no token, no response secrets)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRejected(Exception):
    """An incoming delivery is refused: ``status`` is the HTTP answer (400, 401, 413), message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class HookEvent:
    """One webhook delivery, reduced to what starts an execution.

    ``kind`` is ``ignored`` for events we understand but do not build (a deleted branch, a closed pull
    request, an unsupported event); ``reason`` then says why, and the intake answers 202 with it.
    For a pull request, ``branch`` is the *target* branch (its pipeline file is used), ``commit`` the
    head commit, and ``fetch_ref`` the ref the head commit can be fetched from (forks included).
    """

    kind: HookKind
    delivery_id: str = ""
    branch: str = ""
    tag: str = ""
    commit: str = ""
    fetch_ref: str = ""
    message: str = ""
    author: str = ""
    pr_number: int | None = None
    pr_action: str = ""
    source_branch: str = ""
    repository: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


@dataclass(frozen=True)
class RepoInfo:
    """A repository the user's credential can see; ``admin`` means it may add webhooks."""

    full_name: str
    url: str
    clone_url: str
    default_branch: str = "main"
    permissions: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def require_equal(expected: str, given: str | None, what: str) -> None:
    """Constant-time comparison; a missing or different value is a 401 that names the header."""
    if not given:
        raise WebhookRejected(401, f"missing {what}")
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise WebhookRejected(401, f"{what} does not match the pipeline's webhook secret")


class ScmProvider:
    """Base class: subclasses set the class attributes and override what their provider supports.

    ``host`` is the provider's base URL (``https://github.example.com``) or empty for the public
    service. Every API method takes the user's access token; none logs or returns it.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    has_api: ClassVar[bool] = True
    # The user name git sends with a token as password over HTTPS (Basic auth).
    token_username: ClassVar[str] = "x-access-token"
    # social-auth backend name used to log in with this provider, if any.
    social_backend: ClassVar[str | None] = None

    def __init__(self, host: str = "") -> None:
        self.host = host.rstrip("/")

    # --- incoming deliveries (no network) ------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        """Whether a delivery with these (lower-cased) headers comes from this provider."""
        return False

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise WebhookRejected(401) unless the delivery was signed with ``secret``."""
        raise WebhookRejected(401, f"{self.label or self.name} deliveries cannot be verified")

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        """The delivery as a HookEvent; raise WebhookRejected(400) for a malformed one."""
        raise WebhookRejected(400, f"{self.label or self.name} deliveries are not supported")

    # --- API -----------------------------------------------------------------------------------
    def repo_path(self, repository_url: str) -> str:
        """The provider's name for a repository (``owner/name``, ``group/sub/name``) from its URL."""
        raise ProviderError(f"{self.name} has no API")

    def list_repositories(self, token: str) -> list[RepoInfo]:
        raise ProviderError(f"{self.name} has no API")

    def fetch_file(self, token: str, repo: str, path: str, ref: str) -> str | None:
        """The file's text at ``ref``, or None when it does not exist there."""
        raise ProviderError(f"{self.name} has no API")

    def head_commit(self, token: str, repo: str, branch: str) -> str:
        raise ProviderError(f"{self.name} has no API")

    def create_webhook(self, token: str, repo: str, url: str, secret: str) -> str:
        """Register a webhook for push, tag and pull request events; returns the remote id."""
        raise ProviderError(f"{self.name} has no API")

    def webhook_exists(self, token: str, repo: str, hook_id: str) -> bool:
        raise ProviderError(f"{self.name} has no API")

    def delete_webhook(self, token: str, repo: str, hook_id: str) -> None:
        """Remove the webhook; one that is already gone is not an error."""
        raise ProviderError(f"{self.name} has no API")

    def post_status(
        self, token: str, repo: str, sha: str, state: StatusState, *, target_url: str, description: str, context: str
    ) -> None:
        raise ProviderError(f"{self.name} has no API")

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        raise ProviderError(f"{self.name} tokens cannot be refreshed")

    def commit_file(
        self, token: str, repo: str, path: str, branch: str, content: str, message: str,
        *, base_commit: str | None = None,
    ) -> str:
        """Create or replace the file ``path`` on ``branch`` in one new commit; returns the commit's sha.

        The commit is made by the token's user through the provider's API, so a user saves a file
        without a clone. ``base_commit`` is the commit the content was edited from: when given, a file
        that changed on the branch since then is refused (ProviderError, status 409) rather than
        overwritten. Without it the file is replaced whatever it holds now; the provider's own check
        still refuses a change that lands between reading the file and writing it.
        """
        raise ProviderError(f"{self.name} cannot commit files")


def checked_file_path(path: str, label: str) -> str:
    """A repository-relative file path for a commit: no leading slash, no ``..`` or empty segment."""
    clean = path.strip().lstrip("/")
    segments = clean.split("/")
    if not clean or any(s in ("", ".", "..") for s in segments) or any(ord(c) < 32 for c in clean):
        raise ProviderError(f"{label}: {path!r} is not a file path in the repository")
    return clean


def commit_refusal(
    exc: ProviderError, label: str, repo: str, path: str, branch: str, *, conflict: bool | None = None
) -> ProviderError:
    """A refused commit in words a user can act on; any other failure comes back unchanged.

    403 means the account may not push there (read-only access, a protected branch). A conflict
    (409 and 422 unless ``conflict`` says otherwise: providers disagree on the code) means the file or
    branch moved since it was read. The provider's own reason is kept; the token never is in it.
    """
    detail = str(exc).partition(f"answered {exc.status}: ")[2] or str(exc)
    if exc.status == 403:
        return ProviderError(
            f"{label} refused the commit: the account may not push to branch {branch} of {repo} ({detail})", 403
        )
    if conflict if conflict is not None else exc.status in (409, 422):
        return ProviderError(
            f"{label} refused the commit: {path} on branch {branch} of {repo} changed since it was read; "
            f"reload it and save again ({detail})",
            409,
        )
    return exc
