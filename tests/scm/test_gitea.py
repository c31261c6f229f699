"""Gitea: deliveries (X-Gitea-Signature, parsing, detection ahead of GitHub) from documented-shape
fixtures, and every API call against the fake Gitea server over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from scm_support import (
    Deliveries,
    assert_no_webhook_without_admin,
    assert_verifies_only_with,
    assert_webhook_lifecycle,
    branch_with,
    edited,
    hmac_hex,
    provider_error,
    refresh_once,
    rejection,
    status_row,
)

from devops.scm import registry
from devops.scm.gitea import Gitea
from devops.scm.github import GitHub
from devops.testing.fake_scm import FakeScm

PROVIDER = "gitea"
DELIVERIES = Deliveries("gitea")
HEADERS = DELIVERIES.headers
SECRET = "gitea-hook-secret-9a8b"


def delivery(name: str, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    """A fixture's (lower-cased headers, body) signed the way Gitea signs: hex HMAC-SHA256, no prefix."""
    headers, body = DELIVERIES(name)
    headers["x-gitea-signature"] = hmac_hex(secret, body)
    return headers, body


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_secret_and_no_other(name: str) -> None:
    assert_verifies_only_with(Gitea(), *delivery(name), SECRET, "X-Gitea-Signature")


def test_an_empty_secret_verifies_nothing() -> None:
    assert rejection(Gitea().verify, *delivery("push", secret=""), "").status == 401


def test_a_github_style_prefixed_signature_is_not_a_gitea_signature() -> None:
    headers, body = delivery("push")
    headers["x-gitea-signature"] = "sha256=" + headers["x-gitea-signature"]
    rejection(Gitea().verify, headers, body, SECRET)


def test_push_to_a_branch() -> None:
    event = Gitea().parse(*delivery("push"))
    assert event.kind == "push"
    assert event.delivery_id == "f6266f16-1bf3-46a5-9ea4-602e06ead473"
    assert event.branch == "develop"
    assert event.commit == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert event.message == "Webhooks please\n"
    assert event.author == "gitea"
    assert event.repository == "platform/webapp"


def test_push_of_a_tag() -> None:
    event = Gitea().parse(*delivery("push_tag"))
    assert event.kind == "tag"
    assert event.tag == "v2.0.0" and event.branch == ""
    assert event.commit == "9049f1265b7d61be4a8904a9a27120d2064dab3b"


@pytest.mark.parametrize(
    ("name", "action", "head"),
    [
        ("pull_request_opened", "opened", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
        ("pull_request_synchronized", "synchronized", "34c5c7793cb3b279e22454cb6750c80560547b3a"),
    ],
)
def test_pull_request_opened_or_synchronized(name: str, action: str, head: str) -> None:
    event = Gitea().parse(*delivery(name))
    assert event.kind == "pull_request"
    assert event.pr_action == action and event.pr_number == 3
    assert event.branch == "main" and event.source_branch == "perf/startup"
    assert event.commit == head
    assert event.fetch_ref == "refs/pull/3/head"
    assert event.message == "Faster startup" and event.author == "gitea"


@pytest.mark.parametrize("action", ["closed", "edited", "label_updated", "synchronize"])
def test_other_pull_request_actions_are_ignored(action: str) -> None:
    headers, body = delivery("pull_request_opened")
    event = Gitea().parse(headers, json.dumps({**json.loads(body), "action": action}).encode())
    assert event.kind == "ignored" and event.reason == f"pull request action {action} is not built"


@pytest.mark.parametrize("event_name", ["create", "delete", "issues", "release"])
def test_other_events_are_ignored_by_name(event_name: str) -> None:
    headers, body = delivery("push")
    headers["x-gitea-event"] = event_name
    event = Gitea().parse(headers, body)
    assert event.kind == "ignored" and event.reason == f"event {event_name} is not built"


def test_a_push_of_an_all_zero_commit_is_a_deleted_branch() -> None:
    headers, body = delivery("push")
    data = {**json.loads(body), "after": "0" * 40, "head_commit": None, "commits": []}
    event = Gitea().parse(headers, json.dumps(data).encode())
    assert event.kind == "ignored" and event.reason == "branch develop was deleted"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "Gitea delivery: body is not valid JSON"),
        (b'"push"', "Gitea delivery: body is not a JSON object"),
        (b'{"after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}', "Gitea delivery: missing field ref"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, message: str) -> None:
    headers, _ = DELIVERIES("push")
    exc = rejection(Gitea().parse, headers, body)
    assert (exc.status, exc.message) == (400, message)


def test_a_pull_request_without_its_head_commit_is_400() -> None:
    headers, body = delivery("pull_request_synchronized")
    exc = rejection(Gitea().parse, headers, edited(body, lambda d: d["pull_request"]["head"].pop("sha")))
    assert (exc.status, exc.message) == (400, "Gitea delivery: missing field pull_request.head.sha")


def test_detection_picks_gitea_although_it_also_sends_github_headers() -> None:
    for name in HEADERS:
        headers, _ = delivery(name)
        assert registry.detect(headers) is Gitea
        assert not GitHub.detects(headers)
    gogs_only = {"x-gogs-event": "push", "x-gogs-delivery": "d", "x-github-event": "push"}
    assert registry.detect(gogs_only) is Gitea
    assert not Gitea.detects({"x-github-event": "push"})


def test_gogs_headers_alone_are_read() -> None:
    _, body = delivery("push")
    headers = {"x-gogs-event": "push", "x-gogs-delivery": "gogs-1",
               "x-gogs-signature": hmac_hex(SECRET, body)}
    Gitea().verify(headers, body, SECRET)
    event = Gitea().parse(headers, body)
    assert event.kind == "push" and event.delivery_id == "gogs-1"


def test_the_provider_is_registered_with_its_names() -> None:
    provider = registry.get_provider("gitea", "https://git.example.org/")
    assert isinstance(provider, Gitea)
    assert (provider.name, provider.label, provider.social_backend, provider.token_username) == (
        "gitea", "Gitea", "gitea", "oauth2")
    assert provider.api_base == "https://git.example.org/api/v1"
    assert Gitea().api_base == "https://gitea.com/api/v1"
    sub_path = Gitea("https://example.com/git")
    assert sub_path.repo_path("https://example.com/git/platform/webapp.git") == "platform/webapp"
    assert Gitea().repo_path("git@gitea.com:platform/webapp.git") == "platform/webapp"


# --- API against the fake (``fake`` and ``alice`` come from conftest) ------------------------------------
def test_list_repositories_follows_every_page(fake: FakeScm, alice, make_repo) -> None:
    path = make_repo().path
    for index in range(5):
        fake.add_repo(f"team/svc{index}", path, admins={"alice"} if index < 2 else set(), readers={"alice"})
    fake.add_repo("other/hidden", path, admins={"bob"}, private=True)
    repos = Gitea(fake.url).list_repositories(alice.token)
    assert [r.full_name for r in repos] == [f"team/svc{i}" for i in range(5)]
    assert [r.permissions["admin"] for r in repos] == [True, True, False, False, False]
    assert repos[3].clone_url == f"{fake.url}/team/svc3.git" and repos[3].url == f"{fake.url}/team/svc3"
    calls = fake.calls("GET", r"^/api/v1/user/repos$")
    assert len(calls) == 3
    assert all(h["authorization"] == f"token {alice.token}" for h in calls)


def test_a_bad_token_is_a_401_whose_message_holds_no_token(fake: FakeScm) -> None:
    exc = provider_error(Gitea(fake.url).head_commit, "0123456789abcdef-bad", "team/svc", "main")
    assert exc.status == 401 and "0123456789abcdef-bad" not in str(exc)


def test_fetch_file_at_a_ref(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo("stages: []\n", files={"deploy/values.yaml": "replicas: 2\n"})
    first = repo.head()
    branch_with(repo, "perf/startup", {".devops.yml": "stages: [changed]\n"})
    fake.add_repo("team/svc", repo.path, readers={"alice"}, private=True)
    gitea = Gitea(fake.url)
    assert gitea.fetch_file(alice.token, "team/svc", ".devops.yml", "main") == "stages: []\n"
    assert gitea.fetch_file(alice.token, "team/svc", ".devops.yml", "perf/startup") == "stages: [changed]\n"
    assert gitea.fetch_file(alice.token, "team/svc", ".devops.yml", first) == "stages: []\n"
    assert gitea.fetch_file(alice.token, "team/svc", "deploy/values.yaml", "main") == "replicas: 2\n"
    assert gitea.fetch_file(alice.token, "team/svc", "missing.yml", "main") is None
    assert gitea.fetch_file(alice.token, "team/svc", "deploy", "main") is None
    bob = fake.add_user("bob")
    assert gitea.fetch_file(bob.token, "team/svc", ".devops.yml", "main") is None  # private, not his


def test_head_commit(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    repo.branch("perf/startup")
    tip = repo.commit({"x": "1"})
    fake.add_repo("team/svc", repo.path, readers={"alice"})
    gitea = Gitea(fake.url)
    assert gitea.head_commit(alice.token, "team/svc", "main") == repo.shas[0]
    assert gitea.head_commit(alice.token, "team/svc", "perf/startup") == tip
    assert provider_error(gitea.head_commit, alice.token, "team/svc", "nope").status == 404


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("team/svc", make_repo().path, admins={"alice"})
    gitea = Gitea(fake.url)
    hook_id = gitea.create_webhook(alice.token, "team/svc", "https://ci.example.com/hooks/pipelines/9/", "hooksecret")
    stored = repo.hooks[hook_id]
    assert stored["type"] == "gitea" and stored["active"] is True
    assert stored["events"] == ["push", "pull_request"]
    assert stored["config"] == {"url": "https://ci.example.com/hooks/pipelines/9/", "content_type": "json",
                                "secret": "hooksecret"}
    assert_webhook_lifecycle(gitea, alice.token, "team/svc", hook_id, repo)


def test_a_non_admin_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("team/svc", make_repo().path, readers={"alice"})
    assert_no_webhook_without_admin(Gitea(fake.url), alice.token, "team/svc", repo, "hooksecret")


@pytest.mark.parametrize("state", ["pending", "success", "failure", "error"])
def test_post_status_is_recorded(fake: FakeScm, alice, make_repo, state: str) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("team/svc", git_repo.path, admins={"alice"})
    Gitea(fake.url).post_status(alice.token, "team/svc", git_repo.head(), state, target_url="https://ci/e/2",
                                description="Build " + state, context="devops/pipeline")
    assert repo.statuses == [status_row(git_repo.head(), state, state, target_url="https://ci/e/2",
                                        description="Build " + state, context="devops/pipeline")]


def test_refresh_token(fake: FakeScm, alice) -> None:
    gitea = Gitea(fake.url)
    tokens, issued, _ = refresh_once(gitea, fake, "gitea-app", "gitea-app-secret")
    assert tokens.access_token != issued["access_token"] and tokens.refresh_token
    assert tokens.expires_at is not None and tokens.expires_at > datetime.now(UTC) + timedelta(seconds=7000)
    gitea.list_repositories(tokens.access_token)
    exc = provider_error(gitea.refresh_token, "gitea-app", "gitea-app-secret", "stale-refresh")
    assert "stale-refresh" not in str(exc) and "gitea-app-secret" not in str(exc)
