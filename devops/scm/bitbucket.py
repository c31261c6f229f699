"""Bitbucket Cloud (bitbucket.org): webhook deliveries and the REST API 2.0.

``host`` empty means bitbucket.org (API at ``https://api.bitbucket.org/2.0``); a non-empty host is
only used to point the provider at a fake in tests (``{host}/2.0``, OAuth at ``{host}/site/...``).

Deliveries carry ``X-Event-Key`` and ``X-Hook-UUID`` (Bitbucket Data Center sends no hook UUID, which
is how the two are told apart) and, for a webhook with a secret, ``X-Hub-Signature: sha256=<hex>``:
the HMAC-SHA256 of the body.

Pull request payloads name commits by 12-character abbreviated hashes only (``source.commit.hash``,
and the links carry the same short hash). ``parse`` keeps the short hash in ``commit``; the delivery
processing resolves it against the source branch (``devops.webhooks.process._full_sha``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar
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
from .http import MAX_PAGES, ApiClient
from .payloads import (
    SHA,
    as_list,
    checked_ref,
    checked_sha,
    delivery_id,
    field,
    load_json,
    objects,
    optional,
    require_signature,
)
from .registry import register
from .repo_urls import shown_url, strip_userinfo, url_path
from .tokens import refresh_grant

LABEL = "Bitbucket"
SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")
_HOOK_UUID = re.compile(r"^\{?[0-9a-fA-F-]{32,36}\}?$")
HOOK_EVENTS = ["repo:push", "pullrequest:created", "pullrequest:updated"]
PR_BUILT = frozenset({"pullrequest:created", "pullrequest:updated"})
# Bitbucket build statuses: INPROGRESS, SUCCESSFUL, FAILED, STOPPED. An aborted execution is failed.
STATE_MAP: dict[str, str] = {
    "pending": "INPROGRESS",
    "success": "SUCCESSFUL",
    "failure": "FAILED",
    "error": "FAILED",
}
KEY_MAX = 40  # Bitbucket Cloud refuses longer build status keys
DESCRIPTION_MAX = 255


def signature_check(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`` (Bitbucket Cloud and Data Center);
    the hex may come in either case."""
    given = headers.get("x-hub-signature")
    if given and given.strip().lower().startswith("sha256="):
        given = "sha256=" + given.strip()[7:].lower()
    require_signature(secret, body, given, "X-Hub-Signature")


def status_key(context: str) -> str:
    """A stable key of at most 40 characters: long contexts keep a prefix and a digest of the whole."""
    if len(context) <= KEY_MAX:
        return context
    return f"{context[: KEY_MAX - 9]}-{hashlib.sha256(context.encode()).hexdigest()[:8]}"


class BitbucketCloud(ScmProvider):
    name: ClassVar[str] = "bitbucket"
    label: ClassVar[str] = LABEL
    token_username: ClassVar[str] = "x-token-auth"
    social_backend: ClassVar[str | None] = "bitbucket-oauth2"

    @property
    def web_url(self) -> str:
        return self.host or "https://bitbucket.org"

    @property
    def api_url(self) -> str:
        return f"{self.host}/2.0" if self.host else "https://api.bitbucket.org/2.0"

    def _client(self, token: str) -> ApiClient:
        return ApiClient(self.api_url, f"Bearer {token}", provider=LABEL)

    # --- incoming deliveries -----------------------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        return "x-event-key" in headers and "x-hook-uuid" in headers

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        signature_check(headers, body, secret)

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        key = headers.get("x-event-key", "").strip()
        data = load_json(body, LABEL)
        # X-Request-UUID stays the same when Bitbucket retries (X-Attempt-Number counts the attempts).
        delivery = delivery_id(headers, body, "x-request-uuid")
        repository = optional(data, "repository.full_name")
        if key == "repo:push":
            return self._push(data, delivery, repository)
        if key in PR_BUILT:
            return self._pull_request(data, delivery, repository, key)
        return HookEvent("ignored", delivery, repository=repository, reason=f"Bitbucket event {key!r} is not built")

    def _push(self, data: Mapping[str, Any], delivery: str, repository: str) -> HookEvent:
        author = optional(data, "actor.nickname") or optional(data, "actor.display_name")
        deleted = ""
        for change in objects(data, "push.changes", LABEL):
            new = change.get("new")
            if new is None:  # the ref was deleted by this push
                deleted = deleted or optional(change, "old.name")
                continue
            if not isinstance(new, dict):
                raise WebhookRejected(400, f"{LABEL} delivery: push.changes[].new is not an object")
            kind = field(new, "type", LABEL)
            if kind not in ("branch", "tag"):
                continue  # Mercurial named branches and bookmarks
            name = checked_ref(field(new, "name", LABEL), kind, LABEL)
            return HookEvent(
                "push" if kind == "branch" else "tag",
                delivery,
                branch=name if kind == "branch" else "",
                tag=name if kind == "tag" else "",
                commit=checked_sha(field(new, "target.hash", LABEL), "push.changes[].new.target.hash", LABEL),
                message=optional(new, "target.message"),
                author=author,
                repository=repository,
            )
        reason = f"{deleted} was deleted" if deleted else "the push changed no branch or tag"
        return HookEvent("ignored", delivery, repository=repository, reason=reason)

    def _pull_request(self, data: Mapping[str, Any], delivery: str, repository: str, key: str) -> HookEvent:
        pr = field(data, "pullrequest", LABEL, dict)
        number = field(pr, "id", LABEL, int)
        source_repo = optional(pr, "source.repository.full_name")
        target_repo = optional(pr, "destination.repository.full_name") or repository
        action = key.partition(":")[2]  # created / updated
        if source_repo and target_repo and source_repo != target_repo:
            # Bitbucket Cloud has no pull request refs: a fork's commits cannot be fetched from here.
            return HookEvent(
                "ignored", delivery, pr_number=number, pr_action=action, repository=repository,
                reason=f"pull request #{number} comes from the fork {source_repo}, which is not built",
            )  # fmt: skip
        commit = field(pr, "source.commit.hash", LABEL).lower()
        if not SHORT_SHA.match(commit):
            raise WebhookRejected(400, f"{LABEL} delivery: field pullrequest.source.commit.hash is not a commit id")
        source = checked_ref(field(pr, "source.branch.name", LABEL), "branch", LABEL)
        return HookEvent(
            "pull_request",
            delivery,
            branch=checked_ref(field(pr, "destination.branch.name", LABEL), "branch", LABEL),
            commit=commit,  # abbreviated (12 characters): resolved against source_branch when processed
            source_branch=source,
            fetch_ref=f"refs/heads/{source}",
            message=optional(pr, "title"),
            author=optional(pr, "author.nickname") or optional(data, "actor.nickname"),
            pr_number=number,
            pr_action=action,
            repository=repository,
        )

    # --- API ---------------------------------------------------------------------------------------
    def repo_path(self, repository_url: str) -> str:
        segments = url_path(repository_url, self.host, LABEL)
        if len(segments) < 2 or not all(_SLUG.match(s) and s not in (".", "..") for s in segments[:2]):
            raise ProviderError(f"{LABEL}: {shown_url(repository_url)} is not a workspace/repository URL")
        return "/".join(segments[:2])  # a web URL may go on (/src/main/...)

    @staticmethod
    def _repo(repo: str) -> str:
        workspace, _, slug = repo.partition("/")
        if not _SLUG.match(workspace) or not _SLUG.match(slug) or ".." in repo:
            raise ProviderError(f"{LABEL}: {repo!r} is not a workspace/repository name")
        return f"repositories/{workspace}/{slug}"

    def list_repositories(self, token: str) -> list[RepoInfo]:
        """Repositories the user administers, across workspaces (``role=admin``), following ``next``."""
        client = self._client(token)
        url: str | None = "repositories"
        params: dict[str, str] | None = {"role": "admin", "pagelen": "100"}
        repos: list[RepoInfo] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page = client.json("GET", url, params=params)
            if not isinstance(page, dict):
                raise ProviderError(f"{LABEL}: a repository page is not an object")
            values = page.get("values") or []
            if not isinstance(values, list):
                raise ProviderError(f"{LABEL}: a repository page's values are not a list")
            for value in values:
                if isinstance(value, dict) and value.get("full_name"):
                    repos.append(_repo_info(value))
            url, params = page.get("next"), None
            if url is not None and not (isinstance(url, str) and url.startswith(client.base_url + "/")):
                # The token goes with the request: never follow a link off the API.
                raise ProviderError(f"{LABEL}: a repository page links outside the API")
        return repos

    def fetch_file(self, token: str, repo: str, path: str, ref: str) -> str | None:
        # /src/{commit}/{path} reads the first segment as the revision: a branch with a slash in its
        # name is resolved to its head commit first.
        if "/" in ref and not SHA.match(ref):
            try:
                ref = self.head_commit(token, repo, ref)
            except ProviderError as exc:
                if exc.status == 404:
                    return None
                raise
        target = f"{self._repo(repo)}/src/{quote(ref, safe='')}/{quote(path.strip('/'), safe='/')}"
        response = self._client(token).request("GET", target, ok_missing=True)
        return None if response is None else response.content.decode("utf-8", errors="replace")

    def head_commit(self, token: str, repo: str, branch: str) -> str:
        data = self._client(token).json("GET", f"{self._repo(repo)}/refs/branches/{quote(branch, safe='/')}")
        sha = optional(data, "target.hash") if isinstance(data, dict) else ""
        if not SHA.match(sha):
            raise ProviderError(f"{LABEL}: branch {branch} of {repo} has no head commit")
        return sha

    def create_webhook(self, token: str, repo: str, url: str, secret: str) -> str:
        data = self._client(token).json(
            "POST",
            f"{self._repo(repo)}/hooks",
            json={"description": "devops CI", "url": url, "active": True, "events": HOOK_EVENTS, "secret": secret},
        )
        uid = data.get("uuid") if isinstance(data, dict) else None
        if not isinstance(uid, str) or not _HOOK_UUID.match(uid):
            raise ProviderError(f"{LABEL}: the webhook of {repo} was created without a uuid")
        return uid

    def _hook_path(self, repo: str, hook_id: str) -> str | None:
        if not _HOOK_UUID.match(hook_id):
            return None
        return f"{self._repo(repo)}/hooks/{quote(hook_id, safe='')}"

    def webhook_exists(self, token: str, repo: str, hook_id: str) -> bool:
        path = self._hook_path(repo, hook_id)
        return path is not None and self._client(token).request("GET", path, ok_missing=True) is not None

    def delete_webhook(self, token: str, repo: str, hook_id: str) -> None:
        path = self._hook_path(repo, hook_id)
        if path is not None:
            self._client(token).request("DELETE", path, ok_missing=True)

    def post_status(
        self, token: str, repo: str, sha: str, state: StatusState, *, target_url: str, description: str, context: str
    ) -> None:
        if not SHA.match(sha):
            raise ProviderError(f"{LABEL}: {sha!r} is not a commit id")
        body = {
            "key": status_key(context),
            "state": STATE_MAP[state],
            "name": context,
            "url": target_url,
            "description": description[:DESCRIPTION_MAX],
        }
        self._client(token).request("POST", f"{self._repo(repo)}/commit/{sha}/statuses/build", json=body)

    def commit_file(
        self, token: str, repo: str, path: str, branch: str, content: str, message: str,
        *, base_commit: str | None = None,
    ) -> str:
        """POST /src as multipart form: the file in a field named by its path, ``message`` and ``branch``.

        Bitbucket checks no file version, only the branch: with ``base_commit`` it goes as ``parents``,
        and Bitbucket answers 409 unless that is still the branch's head (any change on the branch
        since, not only to this file, is refused). The new commit is in the answer's ``Location``;
        without one, the branch's head after the commit is read.
        """
        clean = checked_file_path(path, LABEL)
        fields = {"message": message, "branch": branch}
        if base_commit:
            fields["parents"] = base_commit
        upload = {clean: (clean.rsplit("/", 1)[-1], content.encode("utf-8"), "application/octet-stream")}
        try:
            response = self._client(token).request("POST", f"{self._repo(repo)}/src", data=fields, files=upload)
        except ProviderError as exc:
            raise commit_refusal(exc, LABEL, repo, clean, branch) from None
        assert response is not None
        sha = response.headers.get("Location", "").rstrip("/").rpartition("/")[2]
        return sha if SHA.match(sha) else self.head_commit(token, repo, branch)

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        """The OAuth consumer authenticates with HTTP Basic; the answer may repeat the refresh token."""
        return refresh_grant(
            self.web_url, "site/oauth2/access_token", LABEL, client_id, client_secret, refresh_token, basic_auth=True
        )


def _repo_info(value: Mapping[str, Any]) -> RepoInfo:
    clones = value.get("links", {}).get("clone") if isinstance(value.get("links"), dict) else None
    https = next(
        (c.get("href") for c in as_list(clones) if isinstance(c, dict) and c.get("name") == "https"),
        "",
    )
    return RepoInfo(
        full_name=value["full_name"],
        url=optional(value, "links.html.href"),
        clone_url=strip_userinfo(https) if isinstance(https, str) else "",
        default_branch=optional(value, "mainbranch.name") or "main",
        permissions={"admin": True, "push": True, "pull": True},  # listed with role=admin
    )


register(BitbucketCloud)
