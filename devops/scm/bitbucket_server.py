"""Bitbucket Server / Data Center: webhook deliveries and the REST API 1.0.

Always self-hosted: ``host`` is the instance's base URL (with its context path, if any); the API is
``{host}/rest/api/1.0`` and build statuses ``{host}/rest/build-status/1.0``. Users authenticate with
HTTP access tokens (``Authorization: Bearer``); those do not expire through a refresh grant, so
there is nothing to refresh.

Deliveries carry ``X-Event-Key`` and ``X-Request-Id`` but no ``X-Hook-UUID`` (that one is Bitbucket
Cloud's), and ``X-Hub-Signature: sha256=<hex>`` when the webhook has a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from .base import (
    HookEvent,
    ProviderError,
    RepoInfo,
    ScmProvider,
    StatusState,
    TokenSet,
    checked_file_path,
    commit_refusal,
)
from .bitbucket import STATE_MAP, signature_check
from .http import MAX_PAGES, ApiClient
from .payloads import SHA, as_list, checked_ref, checked_sha, delivery_id, field, load_json, objects, optional
from .registry import register
from .repo_urls import shown_url, url_path

LABEL = "Bitbucket Server"
EVENT_KEYS = frozenset({"repo:refs_changed", "pr:opened", "pr:from_ref_updated", "pr:modified", "diagnostics:ping"})
HOOK_EVENTS = ["repo:refs_changed", "pr:opened", "pr:from_ref_updated"]
PR_BUILT = frozenset({"pr:opened", "pr:from_ref_updated"})
_KEY = re.compile(r"^~?[A-Za-z0-9_.-]+$")
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")
# Build states are Bitbucket Cloud's (STATE_MAP): INPROGRESS, SUCCESSFUL, FAILED.
KEY_MAX = 255
DESCRIPTION_MAX = 255


class BitbucketServer(ScmProvider):
    name: ClassVar[str] = "bitbucket-server"
    label: ClassVar[str] = LABEL
    # Empty: git sends the token as ``Authorization: Bearer`` (devops.scm.git.auth_env). Data Center
    # accepts project and repository HTTP access tokens only that way; a personal token works too.
    token_username: ClassVar[str] = ""
    social_backend: ClassVar[str | None] = None

    @property
    def api_url(self) -> str:
        if not self.host:
            raise ProviderError(f"{LABEL} needs the instance's URL (the credential's host)")
        return f"{self.host}/rest/api/1.0"

    def _client(self, token: str) -> ApiClient:
        return ApiClient(self.api_url, f"Bearer {token}", provider=LABEL)

    # --- incoming deliveries -----------------------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        key = headers.get("x-event-key")
        if key is None or "x-hook-uuid" in headers:
            return False
        return "x-request-id" in headers or key.strip() in EVENT_KEYS

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        signature_check(headers, body, secret)

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        key = headers.get("x-event-key", "").strip()
        data = load_json(body, LABEL)
        delivery = delivery_id(headers, body, "x-request-id")
        repository = _repository(data.get("repository"))
        if key == "diagnostics:ping":
            return HookEvent("ping", delivery)
        if key == "repo:refs_changed":
            return self._refs_changed(data, delivery, repository)
        if key in PR_BUILT:
            return self._pull_request(data, delivery, key)
        return HookEvent("ignored", delivery, repository=repository, reason=f"{LABEL} event {key!r} is not built")

    def _refs_changed(self, data: Mapping[str, Any], delivery: str, repository: str) -> HookEvent:
        author = optional(data, "actor.name") or optional(data, "actor.displayName")
        deleted = ""
        for change in objects(data, "changes", LABEL):
            kind = field(change, "ref.type", LABEL)
            name = field(change, "ref.displayId", LABEL)
            if field(change, "type", LABEL) == "DELETE":
                deleted = deleted or f"{kind.lower()} {name}"
                continue
            if kind not in ("BRANCH", "TAG"):
                continue
            to_hash = checked_sha(field(change, "toHash", LABEL), "changes[].toHash", LABEL)
            if kind == "BRANCH":
                return HookEvent(
                    "push", delivery, branch=checked_ref(name, "branch", LABEL), commit=to_hash, author=author,
                    repository=repository,
                )  # fmt: skip
            # For an annotated tag toHash is the tag object, not a commit: leave ``commit`` empty so
            # the processing resolves (and peels) the tag itself.
            return HookEvent("tag", delivery, tag=checked_ref(name, "tag", LABEL), author=author, repository=repository)
        reason = f"{deleted} was deleted" if deleted else "the push changed no branch or tag"
        return HookEvent("ignored", delivery, repository=repository, reason=reason)

    def _pull_request(self, data: Mapping[str, Any], delivery: str, key: str) -> HookEvent:
        pr = field(data, "pullRequest", LABEL, dict)
        number = field(pr, "id", LABEL, int)
        target = field(pr, "toRef", LABEL, dict)
        return HookEvent(
            "pull_request",
            delivery,
            branch=checked_ref(field(pr, "toRef.displayId", LABEL), "branch", LABEL),
            commit=checked_sha(field(pr, "fromRef.latestCommit", LABEL), "pullRequest.fromRef.latestCommit", LABEL),
            source_branch=checked_ref(field(pr, "fromRef.displayId", LABEL), "branch", LABEL),
            # Bitbucket keeps the source of every pull request (forks included) under this ref.
            fetch_ref=f"refs/pull-requests/{number}/from",
            message=optional(pr, "title"),
            author=optional(pr, "author.user.name") or optional(data, "actor.name"),
            pr_number=number,
            pr_action=key.partition(":")[2],
            repository=_repository(target.get("repository")) or _repository(data.get("repository")),
        )

    # --- API ---------------------------------------------------------------------------------------
    def repo_path(self, repository_url: str) -> str:
        """``PROJECT/slug`` from a clone URL (``/scm/proj/slug.git``, ``ssh://...:7999/proj/slug.git``)
        or a browse URL (``/projects/PROJ/repos/slug/browse``, ``/users/name/repos/slug``)."""
        segments = url_path(repository_url, self.host, LABEL)
        pair: list[str] = []
        if "scm" in segments:
            at = segments.index("scm")
            pair = segments[at + 1 : at + 3]
        elif len(segments) >= 4 and segments[0] in ("projects", "users") and segments[2] == "repos":
            pair = [("~" if segments[0] == "users" else "") + segments[1], segments[3]]
        elif len(segments) == 2:
            pair = segments
        if len(pair) != 2 or not _KEY.match(pair[0]) or not _SLUG.match(pair[1]) or ".." in "/".join(pair):
            raise ProviderError(f"{LABEL}: {shown_url(repository_url)} is not a project/repository URL")
        key = pair[0] if pair[0].startswith("~") else pair[0].upper()
        return f"{key}/{pair[1]}"

    @staticmethod
    def _repo(repo: str) -> str:
        key, _, slug = repo.partition("/")
        if not _KEY.match(key) or not _SLUG.match(slug) or ".." in repo:
            raise ProviderError(f"{LABEL}: {repo!r} is not a PROJECT/repository name")
        return f"projects/{quote(key)}/repos/{slug}"

    def _pages(self, client: ApiClient, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The values of a paged collection: ``start``, ``isLastPage`` and ``nextPageStart``."""
        start = 0
        for _ in range(MAX_PAGES):
            page = client.json("GET", path, params={**params, "start": str(start)})
            if not isinstance(page, dict):
                raise ProviderError(f"{LABEL}: {path} answered a page that is not an object")
            values = page.get("values") or []
            if not isinstance(values, list):
                raise ProviderError(f"{LABEL}: {path} answered a page whose values are not a list")
            yield from (v for v in values if isinstance(v, dict))
            following = page.get("nextPageStart")
            if page.get("isLastPage", True) or not isinstance(following, int) or following <= start:
                return
            start = following

    def list_repositories(self, token: str) -> list[RepoInfo]:
        """Repositories the token may administer (``permission=REPO_ADMIN``)."""
        client = self._client(token)
        repos: list[RepoInfo] = []
        for value in self._pages(client, "repos", {"permission": "REPO_ADMIN", "limit": "100"}):
            key, slug = optional(value, "project.key"), value.get("slug")
            if not key or not isinstance(slug, str):
                continue
            links = value.get("links") if isinstance(value.get("links"), dict) else {}
            clone = next(
                (c.get("href") for c in as_list(links.get("clone")) if isinstance(c, dict) and c.get("name") == "http"),
                "",
            )
            web = next((s.get("href") for s in as_list(links.get("self")) if isinstance(s, dict)), "")
            repos.append(
                RepoInfo(
                    full_name=f"{key}/{slug}",
                    url=web or "",
                    clone_url=clone or "",
                    # Listings do not carry the default branch (one more call per repository would).
                    default_branch=optional(value, "defaultBranch") or "main",
                    permissions={"admin": True, "push": True, "pull": True},
                )
            )
        return repos

    def fetch_file(self, token: str, repo: str, path: str, ref: str) -> str | None:
        target = f"{self._repo(repo)}/raw/{quote(path.strip('/'), safe='/')}"
        response = self._client(token).request("GET", target, params={"at": ref}, ok_missing=True)
        return None if response is None else response.content.decode("utf-8", errors="replace")

    def head_commit(self, token: str, repo: str, branch: str) -> str:
        client = self._client(token)
        # filterText matches substrings: look for the branch whose display id is exactly ours.
        for value in self._pages(client, f"{self._repo(repo)}/branches", {"filterText": branch, "limit": "100"}):
            if value.get("displayId") == branch or value.get("id") == f"refs/heads/{branch}":
                sha = value.get("latestCommit")
                if isinstance(sha, str) and SHA.match(sha):
                    return sha
        raise ProviderError(f"{LABEL}: branch {branch} of {repo} not found", status=404)

    def create_webhook(self, token: str, repo: str, url: str, secret: str) -> str:
        data = self._client(token).json(
            "POST",
            f"{self._repo(repo)}/webhooks",
            json={
                "name": "devops CI",
                "url": url,
                "events": HOOK_EVENTS,
                "active": True,
                "configuration": {"secret": secret},
            },
        )
        hook_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(hook_id, int):
            raise ProviderError(f"{LABEL}: the webhook of {repo} was created without an id")
        return str(hook_id)

    def webhook_exists(self, token: str, repo: str, hook_id: str) -> bool:
        if not hook_id.isdigit():
            return False
        return self._client(token).request("GET", f"{self._repo(repo)}/webhooks/{hook_id}", ok_missing=True) is not None

    def delete_webhook(self, token: str, repo: str, hook_id: str) -> None:
        if hook_id.isdigit():
            self._client(token).request("DELETE", f"{self._repo(repo)}/webhooks/{hook_id}", ok_missing=True)

    def post_status(
        self, token: str, repo: str, sha: str, state: StatusState, *, target_url: str, description: str, context: str
    ) -> None:
        if not SHA.match(sha):
            raise ProviderError(f"{LABEL}: {sha!r} is not a commit id")
        self._repo(repo)  # validated even though build statuses are keyed by commit only
        body = {
            "state": STATE_MAP[state],
            "key": context[:KEY_MAX],
            "name": context,
            "url": target_url,
            "description": description[:DESCRIPTION_MAX],
        }
        self._client(token).request("POST", f"{self.host}/rest/build-status/1.0/commits/{sha}", json=body)

    def commit_file(
        self, token: str, repo: str, path: str, branch: str, content: str, message: str,
        *, base_commit: str | None = None,
    ) -> str:
        """PUT browse/{path} as multipart form (``content``, ``message``, ``branch``). An existing file is
        updated from ``sourceCommitId`` (``base_commit``, else the branch's head read first), so a file
        changed on the branch since is a 409. Form posts need ``X-Atlassian-Token: no-check`` (XSRF)."""
        clean = checked_file_path(path, LABEL)
        source = base_commit or self.head_commit(token, repo, branch)
        fields = {"message": message, "branch": branch}
        if self.fetch_file(token, repo, clean, source) is not None:
            fields["sourceCommitId"] = source
        upload = {"content": (clean.rsplit("/", 1)[-1], content.encode("utf-8"), "application/octet-stream")}
        try:
            answer = self._client(token).json(
                "PUT", f"{self._repo(repo)}/browse/{quote(clean, safe='/')}", data=fields, files=upload,
                headers={"X-Atlassian-Token": "no-check"},
            )  # fmt: skip
        except ProviderError as exc:
            raise commit_refusal(exc, LABEL, repo, clean, branch) from None
        sha = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(sha, str) or not SHA.match(sha):
            raise ProviderError(f"{LABEL} committed {clean} without answering the commit's id")
        return sha

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        raise ProviderError(f"{LABEL} access tokens cannot be refreshed: create a new one and sign in again")


def _repository(value: Any) -> str:
    """``PROJECT/slug`` of a repository object in a payload, or empty."""
    if not isinstance(value, dict):
        return ""
    key, slug = optional(value, "project.key"), value.get("slug")
    return f"{key}/{slug}" if key and isinstance(slug, str) else ""


register(BitbucketServer)
