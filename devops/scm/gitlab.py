"""GitLab (gitlab.com and self-managed, nested subgroups): webhook deliveries and the REST API (v4).

``host`` empty means gitlab.com; otherwise it is the instance's base URL (possibly with a relative
URL root such as ``https://example.com/gitlab``). The API lives under ``/api/v4`` and takes a
project by its URL-encoded full path (``group%2Fsub%2Fname``), so subgroups need no id look-up.

Deliveries are authenticated by ``X-Gitlab-Token``, which GitLab sends as the plain secret (it does
not sign the body): it is compared in constant time.
"""

from __future__ import annotations

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
    checked_file_path,
    commit_refusal,
    require_equal,
)
from .http import ApiClient
from .payloads import SHA, ZERO_SHA, checked_ref, checked_sha, delivery_id, field, load_json, optional, require_secret
from .registry import register
from .repo_urls import shown_url, url_path
from .tokens import refresh_grant

LABEL = "GitLab"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.+-]+$")
MAINTAINER = 40  # the access level that may add webhooks
DEVELOPER = 30
# GitLab commit status states (POST /projects/:id/statuses/:sha): pending, running, success, failed,
# canceled (and skipped). An aborted execution is reported as failed, like a failed one.
STATE_MAP: dict[str, str] = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}
DESCRIPTION_MAX = 255
MR_BUILT = frozenset({"open", "reopen", "update"})
# GitLab answers a file that moved under the caller with 400 (409 on some versions) and these words.
FILE_CONFLICTS = ("changed since you started editing", "already exists", "doesn't exist")


class GitLab(ScmProvider):
    name: ClassVar[str] = "gitlab"
    label: ClassVar[str] = LABEL
    token_username: ClassVar[str] = "oauth2"
    social_backend: ClassVar[str | None] = "gitlab"

    @property
    def web_url(self) -> str:
        return self.host or "https://gitlab.com"

    @property
    def api_url(self) -> str:
        return f"{self.web_url}/api/v4"

    def _client(self, token: str) -> ApiClient:
        return ApiClient(self.api_url, f"Bearer {token}", provider=LABEL)

    # --- incoming deliveries -----------------------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        return "x-gitlab-event" in headers

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        require_secret(secret)  # an empty expected token would accept an empty header
        require_equal(secret, headers.get("x-gitlab-token"), "X-Gitlab-Token")

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        event = headers.get("x-gitlab-event", "").strip()
        data = load_json(body, LABEL)
        # Idempotency-Key (GitLab 17.4+) stays the same across retries; older versions send
        # X-Gitlab-Event-UUID (one per hook and triggering request); X-Gitlab-Webhook-UUID identifies a
        # single request and is the last resort.
        delivery = delivery_id(headers, body, "idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid")
        repository = optional(data, "project.path_with_namespace")
        if event == "Push Hook":
            return self._push(data, delivery, repository, tag=False)
        if event == "Tag Push Hook":
            return self._push(data, delivery, repository, tag=True)
        if event == "Merge Request Hook":
            return self._merge_request(data, delivery, repository)
        return HookEvent("ignored", delivery, repository=repository, reason=f"GitLab event {event!r} is not built")

    def _push(self, data: Mapping[str, Any], delivery: str, repository: str, *, tag: bool) -> HookEvent:
        ref = field(data, "ref", LABEL)
        after = field(data, "after", LABEL)
        prefix, what = ("refs/tags/", "tag") if tag else ("refs/heads/", "branch")
        if not ref.startswith(prefix):
            return HookEvent("ignored", delivery, repository=repository, reason=f"pushes to {ref} are not built")
        name = checked_ref(ref.removeprefix(prefix), what, LABEL)
        if ZERO_SHA.match(after):
            return HookEvent("ignored", delivery, repository=repository, reason=f"{what} {name} was deleted")
        # For an annotated tag ``after`` is the tag object; ``checkout_sha`` is the commit it points at.
        commit = checked_sha(optional(data, "checkout_sha") or after, "checkout_sha", LABEL)
        commits = data.get("commits")
        commits = commits if isinstance(commits, list) else []  # a list in every GitLab push
        message = next(
            (c.get("message") for c in commits if isinstance(c, dict) and c.get("id") == commit),
            None,
        )
        return HookEvent(
            "tag" if tag else "push",
            delivery,
            branch="" if tag else name,
            tag=name if tag else "",
            commit=commit,
            message=message if isinstance(message, str) else optional(data, "message"),
            author=optional(data, "user_username") or optional(data, "user_name"),
            repository=repository,
        )

    def _merge_request(self, data: Mapping[str, Any], delivery: str, repository: str) -> HookEvent:
        attrs = field(data, "object_attributes", LABEL, dict)
        action = field(attrs, "action", LABEL)
        iid = field(attrs, "iid", LABEL, int)
        if action not in MR_BUILT:
            return HookEvent(
                "ignored", delivery, pr_number=iid, pr_action=action, repository=repository,
                reason=f"merge request action {action} is not built",
            )  # fmt: skip
        if action == "update" and not attrs.get("oldrev"):
            # GitLab sets oldrev only when the update brought new code (a push, an applied suggestion).
            return HookEvent(
                "ignored", delivery, pr_number=iid, pr_action=action, repository=repository,
                reason=f"merge request !{iid} was updated without new commits",
            )  # fmt: skip
        return HookEvent(
            "pull_request",
            delivery,
            branch=checked_ref(field(attrs, "target_branch", LABEL), "branch", LABEL),
            commit=checked_sha(field(attrs, "last_commit.id", LABEL), "object_attributes.last_commit.id", LABEL),
            source_branch=checked_ref(field(attrs, "source_branch", LABEL), "branch", LABEL),
            # GitLab keeps every merge request's head under this ref in the target project, forks included.
            fetch_ref=f"refs/merge-requests/{iid}/head",
            message=optional(attrs, "title"),
            author=optional(data, "user.username"),
            pr_number=iid,
            pr_action=action,
            repository=repository,
        )

    # --- API ---------------------------------------------------------------------------------------
    def repo_path(self, repository_url: str) -> str:
        segments = url_path(repository_url, self.host, LABEL)
        if "-" in segments:  # a web URL such as group/name/-/tree/main
            segments = segments[: segments.index("-")]
        if len(segments) < 2 or any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
            raise ProviderError(f"{LABEL}: {shown_url(repository_url)} is not a group/name repository URL")
        return "/".join(segments)

    @staticmethod
    def _project(repo: str) -> str:
        """The project id for API paths: the full path, URL-encoded with its slashes."""
        segments = repo.split("/")
        if len(segments) < 2 or any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
            raise ProviderError(f"{LABEL}: {repo!r} is not a group/name project path")
        return quote(repo, safe="")

    def list_repositories(self, token: str) -> list[RepoInfo]:
        """Projects where the user is at least Maintainer (the role that may add webhooks)."""
        client = self._client(token)
        params = {"membership": "true", "min_access_level": str(MAINTAINER), "per_page": "100", "order_by": "id"}
        repos: list[RepoInfo] = []
        for page in client.link_pages("projects", params=params):
            for project in page if isinstance(page, list) else []:
                if not isinstance(project, dict) or not project.get("path_with_namespace"):
                    continue
                level = _access_level(project.get("permissions"))
                repos.append(
                    RepoInfo(
                        full_name=project["path_with_namespace"],
                        url=project.get("web_url") or "",
                        clone_url=project.get("http_url_to_repo") or "",
                        default_branch=project.get("default_branch") or "main",
                        permissions={"admin": level >= MAINTAINER, "push": level >= DEVELOPER, "pull": True},
                    )
                )
        return repos

    def fetch_file(self, token: str, repo: str, path: str, ref: str) -> str | None:
        file_path = quote(path.strip("/"), safe="")
        response = self._client(token).request(
            "GET", f"projects/{self._project(repo)}/repository/files/{file_path}/raw", params={"ref": ref},
            ok_missing=True,
        )  # fmt: skip
        return None if response is None else response.content.decode("utf-8", errors="replace")

    def head_commit(self, token: str, repo: str, branch: str) -> str:
        data = self._client(token).json(
            "GET", f"projects/{self._project(repo)}/repository/branches/{quote(branch, safe='')}"
        )
        sha = optional(data, "commit.id") if isinstance(data, dict) else ""
        if not SHA.match(sha):
            raise ProviderError(f"{LABEL}: branch {branch} of {repo} has no head commit")
        return sha

    def create_webhook(self, token: str, repo: str, url: str, secret: str) -> str:
        data = self._client(token).json(
            "POST",
            f"projects/{self._project(repo)}/hooks",
            json={
                "url": url,
                "token": secret,
                "push_events": True,
                "tag_push_events": True,
                "merge_requests_events": True,
                "enable_ssl_verification": True,
            },
        )
        hook_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(hook_id, int):
            raise ProviderError(f"{LABEL}: the webhook of {repo} was created without an id")
        return str(hook_id)

    def webhook_exists(self, token: str, repo: str, hook_id: str) -> bool:
        if not hook_id.isdigit():
            return False
        path = f"projects/{self._project(repo)}/hooks/{hook_id}"
        return self._client(token).request("GET", path, ok_missing=True) is not None

    def delete_webhook(self, token: str, repo: str, hook_id: str) -> None:
        if hook_id.isdigit():
            self._client(token).request("DELETE", f"projects/{self._project(repo)}/hooks/{hook_id}", ok_missing=True)

    def post_status(
        self, token: str, repo: str, sha: str, state: StatusState, *, target_url: str, description: str, context: str
    ) -> None:
        if not SHA.match(sha):
            raise ProviderError(f"{LABEL}: {sha!r} is not a commit id")
        body = {
            "state": STATE_MAP[state],
            "name": context,
            "target_url": target_url,
            "description": description[:DESCRIPTION_MAX],
        }
        try:
            self._client(token).request("POST", f"projects/{self._project(repo)}/statuses/{sha}", json=body)
        except ProviderError as exc:
            # Posting the state a status already has is refused ("Cannot transition status via :enqueue
            # from :pending"): the commit shows what we meant to say, so it is not a failure.
            if exc.status == 400 and "Cannot transition status" in str(exc):
                return
            raise

    def commit_file(
        self, token: str, repo: str, path: str, branch: str, content: str, message: str,
        *, base_commit: str | None = None,
    ) -> str:
        """POST (create) or PUT (update) repository/files/{path}; an update sends ``last_commit_id``, the
        last commit that touched the file as read at ``base_commit`` or the branch, so GitLab refuses
        a file changed since. The answer names only the file: the sha is the branch's head after it."""
        client = self._client(token)
        clean = checked_file_path(path, LABEL)
        target = f"projects/{self._project(repo)}/repository/files/{quote(clean, safe='')}"
        current = client.request("GET", target, params={"ref": base_commit or branch}, ok_missing=True)
        body: dict[str, str] = {"branch": branch, "content": content, "commit_message": message, "encoding": "text"}
        if current is not None:
            data = current.json()
            last = optional(data, "last_commit_id") if isinstance(data, dict) else ""
            if SHA.match(last):
                body["last_commit_id"] = last
        try:
            client.request("POST" if current is None else "PUT", target, json=body)
        except ProviderError as exc:
            moved = exc.status == 409 or (exc.status == 400 and any(text in str(exc) for text in FILE_CONFLICTS))
            raise commit_refusal(exc, LABEL, repo, clean, branch, conflict=moved) from None
        return self.head_commit(token, repo, branch)

    def refresh_token(self, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        """GitLab rotates refresh tokens: the answer's refresh token replaces the one used."""
        return refresh_grant(self.web_url, "oauth/token", LABEL, client_id, client_secret, refresh_token)


def _access_level(permissions: Any) -> int:
    """The user's effective level: the higher of the project's and the (inherited) group's."""
    if not isinstance(permissions, dict):
        return MAINTAINER  # listed with min_access_level=40, so at least Maintainer
    levels = [
        access.get("access_level")
        for access in (permissions.get("project_access"), permissions.get("group_access"))
        if isinstance(access, dict)
    ]
    numbers = [level for level in levels if isinstance(level, int)]
    return max(numbers) if numbers else MAINTAINER


register(GitLab)
