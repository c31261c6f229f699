"""GitHub and GitHub Enterprise Server: webhook deliveries and the REST API (v3).

``host`` empty means github.com (API at ``https://api.github.com``); otherwise it is a GitHub
Enterprise Server base URL whose API lives under ``/api/v3``. Gitea's payloads are modelled on
GitHub's, so the event readers here (``push_event``, ``pull_request_event``) are shared with
``gitea.py``; the field readers they use are every provider's (``payloads.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .base import (
    HookEvent,
    ProviderError,
    RepoInfo,
    ScmProvider,
    StatusState,
    TokenSet,
    WebhookRejected,
    checked_file_path,
    commit_refusal,
)
from .http import ApiClient
from .payloads import (
    SHA,
    ZERO_SHA,
    checked_ref,
    checked_sha,
    field,
    load_payload,
    optional,
    require_signature,
)
from .registry import register
from .repo_urls import shown_url, url_path
from .tokens import refresh_grant

STATUS_DESCRIPTION_MAX = 140  # GitHub answers 422 for a longer description


# --- payload readers shared with Gitea ---------------------------------------------------------------
def push_event(data: Mapping[str, Any], delivery_id: str, label: str) -> HookEvent:
    """A push to a branch or a tag (GitHub and Gitea share the shape: ref, after, head_commit)."""
    ref = field(data, "ref", label)
    after = field(data, "after", label)
    repository = optional(data, "repository.full_name")
    if ref.startswith("refs/heads/"):
        kind, name, what = "push", ref.removeprefix("refs/heads/"), "branch"
    elif ref.startswith("refs/tags/"):
        kind, name, what = "tag", ref.removeprefix("refs/tags/"), "tag"
    else:
        return HookEvent("ignored", delivery_id, repository=repository, reason=f"pushes to {ref} are not built")
    checked_ref(name, what, label)
    if data.get("deleted") is True or ZERO_SHA.match(after):
        return HookEvent("ignored", delivery_id, repository=repository, reason=f"{what} {name} was deleted")
    author = (
        optional(data, "head_commit.author.username")
        or optional(data, "head_commit.author.name")
        or optional(data, "pusher.name")
        or optional(data, "sender.login")
    )
    return HookEvent(
        kind,  # type: ignore[arg-type]
        delivery_id,
        branch=name if kind == "push" else "",
        tag=name if kind == "tag" else "",
        commit=checked_sha(after, "after", label),
        message=optional(data, "head_commit.message"),
        author=author,
        repository=repository,
    )


def pull_request_event(data: Mapping[str, Any], delivery_id: str, label: str, built: frozenset[str]) -> HookEvent:
    """A pull request opened or updated; other actions (closed, labeled...) are ignored with a reason."""
    action = field(data, "action", label)
    repository = optional(data, "repository.full_name")
    if action not in built:
        return HookEvent(
            "ignored", delivery_id, pr_action=action, repository=repository,
            reason=f"pull request action {action} is not built",
        )
    number = data.get("number")
    if number is None:
        number = field(data, "pull_request.number", label, int)
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise WebhookRejected(400, f"{label} delivery: field number is not a pull request number")
    return HookEvent(
        "pull_request",
        delivery_id,
        branch=checked_ref(field(data, "pull_request.base.ref", label), "branch", label),
        commit=checked_sha(field(data, "pull_request.head.sha", label), "pull_request.head.sha", label),
        source_branch=checked_ref(field(data, "pull_request.head.ref", label), "branch", label),
        fetch_ref=f"refs/pull/{number}/head",
        message=optional(data, "pull_request.title"),
        author=optional(data, "pull_request.user.login") or optional(data, "sender.login"),
        pr_number=number,
        pr_action=action,
        repository=repository,
    )


# --- API helpers shared with Gitea -------------------------------------------------------------------
def owner_name(repository_url: str, host: str, label: str) -> str:
    """``owner/name`` from an https, ssh:// or scp-like (``git@host:owner/name.git``) URL.

    A self-hosted instance may live under a path (``https://example.com/git``): that prefix is not
    part of the repository's name, so ``url_path`` removes it before the two segments are taken.
    """
    segments = url_path(repository_url, host, label)
    if len(segments) != 2:
        raise ProviderError(f"{label}: {shown_url(repository_url)} is not an owner/name repository URL")
    return "/".join(segments)


_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def checked_repo(repo: str, label: str) -> str:
    """An ``owner/name`` safe to put in an API path (no ``..``, no extra segments)."""
    if not _REPO.match(repo) or ".." in repo:
        raise ProviderError(f"{label}: {repo!r} is not an owner/name repository")
    return repo


def decode_content(answer: Any, label: str) -> str | None:
    """The text of a contents-API answer (base64, possibly wrapped); a directory is not a file."""
    if not isinstance(answer, dict) or answer.get("type", "file") != "file":
        return None
    try:
        return base64.b64decode(answer.get("content") or "").decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ProviderError(f"{label} API returned file content that is not base64 UTF-8 text") from None


def short_description(text: str) -> str:
    return text if len(text) <= STATUS_DESCRIPTION_MAX else text[: STATUS_DESCRIPTION_MAX - 3] + "..."


class GitHub(ScmProvider):
    """github.com or a GitHub Enterprise Server (``host``)."""

    name = "github"
    label = "GitHub"
    social_backend = "github"
    token_username = "x-access-token"
    PR_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
    BRANCH_SHA_KEY = "sha"  # in the branch answer's "commit"
    REPO_LIST_PARAMS: dict[str, object] = {"per_page": 100, "affiliation": "owner,collaborator,organization_member"}

    @property
    def api_base(self) -> str:
        return f"{self.host}/api/v3" if self.host else "https://api.github.com"

    @property
    def web_base(self) -> str:
        return self.host or "https://github.com"

    def repo_api(self, repo: str) -> str:
        return f"repos/{checked_repo(repo, self.label)}"

    def client(self, token: str) -> ApiClient:
        api = ApiClient(self.api_base, f"Bearer {token}", provider=self.label)
        api.session.headers["Accept"] = "application/vnd.github+json"
        api.session.headers["X-GitHub-Api-Version"] = "2022-11-28"
        return api

    # --- incoming deliveries ---------------------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        # Gitea (and Gogs) also send X-GitHub-Event for compatibility; those are Gitea's to read.
        return "x-github-event" in headers and "x-gitea-event" not in headers and "x-gogs-event" not in headers

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        require_signature(secret, body, headers.get("x-hub-signature-256"), "X-Hub-Signature-256")

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        event = headers.get("x-github-event", "")
        delivery_id = headers.get("x-github-delivery", "")
        data = load_payload(headers, body, self.label)
        if event == "ping":
            return HookEvent("ping", delivery_id, repository=optional(data, "repository.full_name"))
        if event == "push":
            return push_event(data, delivery_id, self.label)
        if event == "pull_request":
            return pull_request_event(data, delivery_id, self.label, self.PR_ACTIONS)
        return HookEvent("ignored", delivery_id, reason=f"event {event or '(none)'} is not built")

    # --- API ---------------------------------------------------------------------------------------
    def repo_path(self, repository_url: str) -> str:
        return owner_name(repository_url, self.host, self.label)

    def list_repositories(self, token: str) -> list[RepoInfo]:
        repos: list[RepoInfo] = []
        for page in self.client(token).link_pages("user/repos", dict(self.REPO_LIST_PARAMS)):
            if not isinstance(page, list):
                raise ProviderError(f"{self.label} API GET user/repos answered with no list")
            repos.extend(repo_info(item) for item in page if isinstance(item, dict))
        return repos

    def fetch_file(self, token: str, repo: str, path: str, ref: str) -> str | None:
        api = self.client(token)
        target = f"{self.repo_api(repo)}/contents/{quote(path.lstrip('/'), safe='/')}"
        response = api.request("GET", target, params={"ref": ref}, ok_missing=True)
        if response is None:
            return None
        answer = response.json()
        if isinstance(answer, dict) and answer.get("type") == "file" and answer.get("encoding") == "none":
            # Files over 1 MB come without content: ask for the raw bytes instead.
            raw = api.request("GET", target, params={"ref": ref}, ok_missing=True,
                              headers={"Accept": "application/vnd.github.raw+json"})
            return None if raw is None else raw.content.decode("utf-8", errors="replace")
        return decode_content(answer, self.label)

    def head_commit(self, token: str, repo: str, branch: str) -> str:
        answer = self.client(token).json("GET", f"{self.repo_api(repo)}/branches/{quote(branch, safe='/')}")
        commit = answer.get("commit") if isinstance(answer, dict) else None
        sha = commit.get(self.BRANCH_SHA_KEY) if isinstance(commit, dict) else None
        if not isinstance(sha, str) or not SHA.match(sha):
            raise ProviderError(f"{self.label} API answered without the head commit of {branch}")
        return sha

    def hook_body(self, url: str, secret: str) -> dict[str, object]:
        return {
            "name": "web",
            "active": True,
            "events": ["push", "pull_request"],
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        }

    def create_webhook(self, token: str, repo: str, url: str, secret: str) -> str:
        answer = self.client(token).json("POST", f"{self.repo_api(repo)}/hooks", json=self.hook_body(url, secret))
        if not isinstance(answer, dict) or answer.get("id") is None:
            raise ProviderError(f"{self.label} API created a webhook without an id")
        return str(answer["id"])

    def webhook_exists(self, token: str, repo: str, hook_id: str) -> bool:
        return self.client(token).request("GET", f"{self.repo_api(repo)}/hooks/{quote(hook_id, safe='')}",
                                          ok_missing=True) is not None

    def delete_webhook(self, token: str, repo: str, hook_id: str) -> None:
        self.client(token).request("DELETE", f"{self.repo_api(repo)}/hooks/{quote(hook_id, safe='')}", ok_missing=True)

    def post_status(
        self, token: str, repo: str, sha: str, state: StatusState, *, target_url: str, description: str, context: str
    ) -> None:
        body = {"state": state, "target_url": target_url, "description": short_description(description),
                "context": context}
        self.client(token).request("POST", f"{self.repo_api(repo)}/statuses/{quote(sha, safe='')}", json=body)

    def write_method(self, exists: bool) -> str:
        """GitHub creates and updates with PUT (Gitea creates with POST)."""
        return "PUT"

    def commit_file(
        self, token: str, repo: str, path: str, branch: str, content: str, message: str,
        *, base_commit: str | None = None,
    ) -> str:
        """PUT contents/{path} with the base64 content; an update names the blob it replaces (``sha``),
        read at ``base_commit`` or the branch, so a file changed since is a 409, not overwritten."""
        api = self.client(token)
        clean = checked_file_path(path, self.label)
        target = f"{self.repo_api(repo)}/contents/{quote(clean, safe='/')}"
        current = api.request("GET", target, params={"ref": base_commit or branch}, ok_missing=True)
        answer = current.json() if current is not None else None
        blob = answer.get("sha") if isinstance(answer, dict) and answer.get("type") == "file" else None
        body: dict[str, str] = {
            "message": message,
            "content": base64.b64encode(content.encode("utf-8")).decode("ascii"),
            "branch": branch,
        }
        if isinstance(blob, str) and blob:
            body["sha"] = blob
        try:
            written = api.json(self.write_method("sha" in body), target, json=body)
        except ProviderError as exc:
            raise commit_refusal(exc, self.label, repo, clean, branch) from None
        sha = optional(written, "commit.sha") if isinstance(written, dict) else ""
        if not SHA.match(sha):
            raise ProviderError(f"{self.label} API committed {clean} without answering the commit's sha")
        return sha

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        return refresh_grant(self.web_base, "login/oauth/access_token", self.label, client_id, client_secret,
                             refresh_token)


def repo_info(item: dict[str, Any]) -> RepoInfo:
    perms = item.get("permissions") or {}
    return RepoInfo(
        full_name=str(item.get("full_name", "")),
        url=str(item.get("html_url", "")),
        clone_url=str(item.get("clone_url", "")),
        default_branch=str(item.get("default_branch") or "main"),
        permissions={key: bool(perms.get(key)) for key in ("admin", "push", "pull")},
    )


register(GitHub)
