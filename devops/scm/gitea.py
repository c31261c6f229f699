"""Gitea (gitea.com or self-hosted): webhook deliveries and the REST API (``/api/v1``).

Gitea modelled its webhook payloads and much of its REST API on GitHub's, and it even sends
``X-GitHub-Event`` for compatibility. So ``Gitea`` reuses GitHub's payload readers and API calls and
overrides only what differs: its own headers and signature (``X-Gitea-Signature``, hex without a
prefix), the ``synchronized`` pull request action, the API base and auth scheme, paging parameters, the
branch answer (``commit.id``) and the hook body (``type: gitea``).
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import HookEvent
from .github import GitHub, pull_request_event, push_event
from .http import ApiClient
from .payloads import load_payload, optional, require_signature
from .registry import register


class Gitea(GitHub):
    name = "gitea"
    label = "Gitea"
    social_backend = "gitea"
    # Gitea's basic auth takes an access token as the password whatever the user name is; "oauth2"
    # follows the convention GitLab requires, so one value works for both.
    token_username = "oauth2"
    PR_ACTIONS = frozenset({"opened", "synchronized", "reopened"})
    BRANCH_SHA_KEY = "id"
    REPO_LIST_PARAMS: dict[str, object] = {"limit": 50, "page": 1}  # 50: Gitea's default MAX_RESPONSE_ITEMS

    @property
    def api_base(self) -> str:
        return f"{self.web_base}/api/v1"

    @property
    def web_base(self) -> str:
        return self.host or "https://gitea.com"

    def client(self, token: str) -> ApiClient:
        return ApiClient(self.api_base, f"token {token}", provider=self.label)

    # --- incoming deliveries ---------------------------------------------------------------------
    @classmethod
    def detects(cls, headers: Mapping[str, str]) -> bool:
        return "x-gitea-event" in headers or "x-gogs-event" in headers

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        signature = headers.get("x-gitea-signature") or headers.get("x-gogs-signature")
        require_signature(secret, body, signature, "X-Gitea-Signature", prefix="")

    def parse(self, headers: Mapping[str, str], body: bytes) -> HookEvent:
        event = headers.get("x-gitea-event") or headers.get("x-gogs-event", "")
        delivery_id = headers.get("x-gitea-delivery") or headers.get("x-gogs-delivery", "")
        data = load_payload(headers, body, self.label)
        if event == "push":
            return push_event(data, delivery_id, self.label)
        if event in ("pull_request", "pull_request_sync"):  # "..._sync" is the event type; be lenient
            return pull_request_event(data, delivery_id, self.label, self.PR_ACTIONS)
        # "create" arrives beside the push of a new branch or tag; the push is what gets built.
        return HookEvent("ignored", delivery_id, repository=optional(data, "repository.full_name"),
                         reason=f"event {event or '(none)'} is not built")

    # --- API ---------------------------------------------------------------------------------------
    def write_method(self, exists: bool) -> str:
        """Gitea creates a file with POST and updates it with PUT (which needs the blob's ``sha``)."""
        return "PUT" if exists else "POST"

    def hook_body(self, url: str, secret: str) -> dict[str, object]:
        # "pull_request" also subscribes to pull_request_sync (new commits on an open pull request).
        return {
            "type": "gitea",
            "active": True,
            "events": ["push", "pull_request"],
            "config": {"url": url, "content_type": "json", "secret": secret},
        }


register(Gitea, detect_before="github")
