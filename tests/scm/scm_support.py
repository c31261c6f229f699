"""Helpers the source code provider tests share: recorded deliveries, refusals, webhooks and statuses.

A module of its own, not conftest: test folders are not packages, and ``from conftest import`` picks
whichever folder's conftest was imported first. Fixtures (the fake servers, ``alice``) are in
``conftest.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devops.scm.base import ProviderError, ScmProvider, StatusState, TokenSet, WebhookRejected
from devops.testing.fake_scm import FakeRepo, FakeScm, FakeUser

FIXTURES = Path(__file__).parent / "fixtures"
TARGET_URL = "https://ci.example.com/executions/1/"
HOOK_URL = "https://ci.example.com/hooks/pipelines/3/"
Delivery = tuple[dict[str, str], bytes]  # (headers with lower-cased keys, body)


# --- deliveries ----------------------------------------------------------------------------------------
class Deliveries:
    """One provider's recorded deliveries: ``fixtures/<folder>/headers.json`` (headers by delivery name,
    as the provider sends them) and ``fixtures/<folder>/<name>.json`` (the body)."""

    def __init__(self, folder: str) -> None:
        self.folder = FIXTURES / folder
        self.headers: dict[str, dict[str, str]] = json.loads((self.folder / "headers.json").read_text())

    def body(self, name: str) -> bytes:
        return (self.folder / f"{name}.json").read_bytes()

    def data(self, name: str) -> Any:
        return json.loads(self.body(name))

    def __call__(self, name: str) -> Delivery:
        """(headers with lower-cased keys, as the providers receive them; the body), unsigned."""
        return {k.lower(): v for k, v in self.headers[name].items()}, self.body(name)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def edited(body: bytes, change: Callable[[Any], object]) -> bytes:
    """The JSON body after ``change`` edited it in place."""
    data = json.loads(body)
    change(data)
    return json.dumps(data).encode()


def hub_signed(
    deliveries: Deliveries, name: str, secret: str, change: Callable[[Any], object] | None = None
) -> Delivery:
    """A Bitbucket (Cloud or Data Center) delivery, edited by ``change``, with its ``X-Hub-Signature``."""
    headers, body = deliveries(name)
    if change is not None:
        body = edited(body, change)
    headers["x-hub-signature"] = "sha256=" + hmac_hex(secret, body)
    return headers, body


def rejection(call: Callable[..., object], *args: Any) -> WebhookRejected:
    """The WebhookRejected that ``call(*args)`` must raise."""
    with pytest.raises(WebhookRejected) as exc:
        call(*args)
    return exc.value


def assert_verifies_only_with(
    provider: ScmProvider, headers: dict[str, str], body: bytes, secret: str, header: str
) -> None:
    """The delivery verifies with ``secret``; another secret or no ``header`` is a 401 naming it."""
    provider.verify(headers, body, secret)
    wrong = rejection(provider.verify, headers, body, "another-secret")
    assert wrong.status == 401 and header in wrong.message
    without = {k: v for k, v in headers.items() if k != header.lower()}
    missing = rejection(provider.verify, without, body, secret)
    assert (missing.status, missing.message) == (401, f"missing {header}")


# --- repositories and API calls ------------------------------------------------------------------------
def provider_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> ProviderError:
    """The ProviderError that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ProviderError) as exc:
        call(*args, **kwargs)
    return exc.value


def branch_with(repo: Any, branch: str, files: dict[str, str]) -> str:
    """Commit ``files`` on a new ``branch`` of a ``make_repo`` repository, back on main; the new commit."""
    repo.branch(branch)
    sha = repo.commit(files)
    repo.checkout("main")
    return sha


def two_branch_repo(make_repo: Callable[..., Any]) -> tuple[Any, str]:
    """A repository whose pipeline file reads ``on main`` on main and ``on the branch`` on feature/x,
    with ``ci/nested/conf.txt`` beside it; (the repository, main's commit)."""
    repo = make_repo("on main\n", files={"ci/nested/conf.txt": "nested ü\n"})
    first = repo.head()
    branch_with(repo, "feature/x", {".devops.yml": "on the branch\n"})
    return repo, first


def assert_fetches_by_ref(provider: ScmProvider, token: str, repo_name: str, first: str) -> None:
    """``fetch_file`` reads a ``two_branch_repo`` by branch and by commit, nested paths included, and
    answers None for a missing file or ref."""
    assert provider.fetch_file(token, repo_name, ".devops.yml", "main") == "on main\n"
    assert provider.fetch_file(token, repo_name, ".devops.yml", "feature/x") == "on the branch\n"
    assert provider.fetch_file(token, repo_name, ".devops.yml", first) == "on main\n"
    assert provider.fetch_file(token, repo_name, "ci/nested/conf.txt", "main") == "nested ü\n"
    assert provider.fetch_file(token, repo_name, "missing.yml", "main") is None
    assert provider.fetch_file(token, repo_name, ".devops.yml", "no-such-branch") is None


def assert_branch_heads(
    provider: ScmProvider, token: str, repo_name: str, heads: dict[str, str], *, missing: str = "gone"
) -> None:
    """``head_commit`` of each branch; a branch that does not exist is a 404."""
    for branch, sha in heads.items():
        assert provider.head_commit(token, repo_name, branch) == sha
    assert provider_error(provider.head_commit, token, repo_name, missing).status == 404


# --- webhooks, statuses, tokens -------------------------------------------------------------------------
def assert_webhook_lifecycle(provider: ScmProvider, token: str, repo_name: str, hook_id: str, repo: FakeRepo) -> None:
    """A created hook exists until deleted; deleting it again (already gone) is not an error."""
    assert provider.webhook_exists(token, repo_name, hook_id)
    provider.delete_webhook(token, repo_name, hook_id)
    assert hook_id not in repo.hooks
    assert not provider.webhook_exists(token, repo_name, hook_id)
    provider.delete_webhook(token, repo_name, hook_id)  # already gone: not an error
    assert repo.hooks == {}


def assert_no_webhook_without_admin(
    provider: ScmProvider, token: str, repo_name: str, repo: FakeRepo, secret: str
) -> None:
    """Creating a webhook without admin rights is a 403 whose message holds no secret; nothing is kept."""
    exc = provider_error(provider.create_webhook, token, repo_name, "https://ci.example.com/h/", secret)
    assert exc.status == 403 and secret not in str(exc)
    assert repo.hooks == {}


def status_row(
    sha: str, state: str, provider_state: str, *, description: str, context: str, target_url: str = TARGET_URL
) -> dict[str, str]:
    """A commit status as the fakes record it (``FakeRepo.statuses``)."""
    return {"sha": sha, "state": state, "provider_state": provider_state, "target_url": target_url,
            "description": description, "context": context}  # fmt: skip


def post_one_status(
    provider: ScmProvider,
    fake: FakeScm,
    make_repo: Callable[..., Any],
    user: FakeUser,
    repo_name: str,
    state: StatusState,
    *,
    description: str = "#1 done",
    context: str = "devops/app",
    target_url: str = TARGET_URL,
) -> tuple[FakeRepo, str]:
    """Post one status on the head of a new repository ``user`` administers: (the fake's repository, the sha)."""
    git_repo = make_repo()
    repo = fake.add_repo(repo_name, git_repo.path, admins={user.login})
    sha = git_repo.head()
    provider.post_status(
        user.token, repo_name, sha, state, target_url=target_url, description=description, context=context
    )
    return repo, sha


def unknown_commit_error(provider: ScmProvider, token: str, repo_name: str, **status: str) -> ProviderError:
    """The error of posting a status on a commit the repository does not hold."""
    fields = {"target_url": "https://ci.example.com/", "description": "", "context": "devops/app", **status}
    return provider_error(provider.post_status, token, repo_name, "1" * 40, "success", **fields)


def refresh_once(
    provider: ScmProvider, fake: FakeScm, client_id: str, client_secret: str, login: str = "alice"
) -> tuple[TokenSet, dict[str, Any], datetime]:
    """Register the OAuth client with the fake, issue ``login``'s tokens and refresh them once:
    (the new tokens, the issued token answer, the time just before the refresh)."""
    fake.oauth_clients[client_id] = client_secret
    issued = fake.issue_tokens(login)
    before = datetime.now(UTC)
    return provider.refresh_token(client_id, client_secret, issued["refresh_token"]), issued, before
