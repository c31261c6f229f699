"""GitHub: deliveries (signature, parsing, detection) from documented-shape fixtures, and every API call
against the fake GitHub Enterprise server over real HTTP, with files read from real git repositories."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from scm_support import (
    Deliveries,
    assert_verifies_only_with,
    assert_webhook_lifecycle,
    branch_with,
    edited,
    hmac_hex,
    provider_error,
    refresh_once,
    rejection,
    status_row,
    unknown_commit_error,
)

from devops.scm import registry
from devops.scm.base import ProviderError, WebhookRejected
from devops.scm.github import GitHub
from devops.scm.tokens import token_set
from devops.testing.fake_scm import FakeScm
from devops.testing.fake_scm.server import ROUTES

PROVIDER = "github"
DELIVERIES = Deliveries("github")
HEADERS = DELIVERIES.headers
SECRET = "webhook-secret-1f2e3d"


def delivery(name: str, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    """A fixture's (lower-cased headers, body) signed with ``secret`` the way GitHub signs it."""
    headers, body = DELIVERIES(name)
    headers["x-hub-signature-256"] = "sha256=" + hmac_hex(secret, body)
    return headers, body


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_secret_and_no_other(name: str) -> None:
    assert_verifies_only_with(GitHub(), *delivery(name), SECRET, "X-Hub-Signature-256")


def test_an_empty_secret_verifies_nothing() -> None:
    assert rejection(GitHub().verify, *delivery("push", secret=""), "").status == 401


def test_signature_matches_githubs_documented_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    GitHub().verify({"x-hub-signature-256": expected}, b"Hello, World!", "It's a Secret to Everybody")


def test_a_body_changed_after_signing_is_rejected() -> None:
    headers, body = delivery("push")
    forged = body.replace(b"refs/heads/main", b"refs/heads/evil")
    assert rejection(GitHub().verify, headers, forged, SECRET).status == 401


def test_the_legacy_sha1_signature_alone_is_not_enough() -> None:
    headers, body = delivery("push")
    headers["x-hub-signature"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    headers.pop("x-hub-signature-256")
    with pytest.raises(WebhookRejected):
        GitHub().verify(headers, body, SECRET)


def test_ping() -> None:
    event = GitHub().parse(*delivery("ping"))
    assert event.kind == "ping"
    assert event.delivery_id == "2e3bd9e0-12ab-11ef-8a6b-7a0c3e8b1f01"
    assert event.repository == "octo-org/hello-world"


def test_push_to_a_branch() -> None:
    event = GitHub().parse(*delivery("push"))
    assert event.kind == "push"
    assert event.delivery_id == "9a5e7e10-12ab-11ef-9f2c-3c1b5d1e2a02"
    assert event.branch == "main" and event.tag == ""
    assert event.commit == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert event.message == "Update the pipeline file"
    assert event.author == "octocat"
    assert event.repository == "octo-org/hello-world"
    assert event.pr_number is None and event.fetch_ref == ""


def test_push_of_a_tag() -> None:
    event = GitHub().parse(*delivery("push_tag"))
    assert event.kind == "tag"
    assert event.tag == "v1.2.0" and event.branch == ""
    assert event.commit == "9049f1265b7d61be4a8904a9a27120d2064dab3b"
    assert event.message == "Release 1.2.0"


def test_a_deleted_branch_is_ignored_with_its_name() -> None:
    event = GitHub().parse(*delivery("push_deleted"))
    assert event.kind == "ignored"
    assert event.reason == "branch feature/login was deleted"
    assert event.delivery_id == "b7d2e6c0-12ab-11ef-92a1-4e8f7d6c5b04"


def test_an_all_zero_after_counts_as_deleted_without_the_deleted_flag() -> None:
    headers, body = delivery("push_deleted")
    assert GitHub().parse(headers, edited(body, lambda d: d.pop("deleted"))).kind == "ignored"


@pytest.mark.parametrize(
    ("name", "action", "head"),
    [
        ("pull_request_opened", "opened", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
        ("pull_request_synchronize", "synchronize", "34c5c7793cb3b279e22454cb6750c80560547b3a"),
    ],
)
def test_pull_request_opened_or_updated(name: str, action: str, head: str) -> None:
    event = GitHub().parse(*delivery(name))
    assert event.kind == "pull_request"
    assert event.pr_action == action
    assert event.pr_number == 7
    assert event.branch == "main"  # the target: its pipeline file is used
    assert event.source_branch == "feature/login"
    assert event.commit == head
    assert event.fetch_ref == "refs/pull/7/head"
    assert event.message == "Add a login page"
    assert event.author == "octocat"


def test_reopened_is_built_too() -> None:
    headers, body = delivery("pull_request_opened")
    data = {**json.loads(body), "action": "reopened"}
    assert GitHub().parse(headers, json.dumps(data).encode()).kind == "pull_request"


def test_a_closed_pull_request_is_ignored_naming_the_action() -> None:
    event = GitHub().parse(*delivery("pull_request_closed"))
    assert event.kind == "ignored"
    assert event.reason == "pull request action closed is not built"
    assert event.pr_action == "closed"


def test_events_that_are_not_built_are_ignored_by_name() -> None:
    headers, body = delivery("push")
    headers["x-github-event"] = "issues"
    event = GitHub().parse(headers, body)
    assert event.kind == "ignored" and event.reason == "event issues is not built"


def test_a_form_encoded_delivery_is_read_from_its_payload_field() -> None:
    headers, json_body = DELIVERIES("push")
    body = urlencode({"payload": json_body.decode()}).encode()
    headers["content-type"] = "application/x-www-form-urlencoded"
    headers["x-hub-signature-256"] = "sha256=" + hmac_hex(SECRET, body)
    provider = GitHub()
    provider.verify(headers, body, SECRET)
    event = provider.parse(headers, body)
    assert event.kind == "push" and event.commit == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "GitHub delivery: body is not valid JSON"),
        (b"[1, 2]", "application/json", "GitHub delivery: body is not a JSON object"),
        (b"\xff\xfe", "application/json", "GitHub delivery: body is not valid JSON"),
        (b"other=1", "application/x-www-form-urlencoded", "GitHub delivery: form body without a payload field"),
        (b"payload=%7Bnope", "application/x-www-form-urlencoded", "GitHub delivery: body is not valid JSON"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, content_type: str, message: str) -> None:
    headers = {"x-github-event": "push", "x-github-delivery": "d1", "content-type": content_type}
    exc = rejection(GitHub().parse, headers, body)
    assert (exc.status, exc.message) == (400, message)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("push", lambda d: d.pop("ref"), "GitHub delivery: missing field ref"),
        ("push", lambda d: d.update(after=None), "GitHub delivery: missing field after"),
        ("push", lambda d: d.update(after="not-a-sha"), "GitHub delivery: field after is not a commit id"),
        ("push", lambda d: d.update(ref="refs/heads/--upload-pack=x"), "GitHub delivery: invalid branch name"),
        ("push", lambda d: d.update(ref=42), "GitHub delivery: field ref is not a str"),
        ("pull_request_opened", lambda d: d["pull_request"].pop("head"),
         "GitHub delivery: missing field pull_request.head.sha"),
        ("pull_request_opened", lambda d: d["pull_request"]["base"].update(ref="a..b"),
         "GitHub delivery: invalid branch name"),
        ("pull_request_opened", lambda d: d.update(number="7"), "GitHub delivery: field number is not"),
        ("pull_request_opened", lambda d: d.pop("action"), "GitHub delivery: missing field action"),
    ],
)
def test_missing_or_bad_fields_are_400_naming_the_field(name: str, change, message: str) -> None:
    headers, body = delivery(name)
    exc = rejection(GitHub().parse, headers, edited(body, change))
    assert exc.status == 400
    assert exc.message.startswith(message)


def test_detection_picks_github_and_leaves_gitea_deliveries_to_gitea() -> None:
    github_headers, _ = delivery("push")
    assert registry.detect(github_headers) is GitHub
    gitea_headers, _ = Deliveries("gitea")("push")
    assert "x-github-event" in gitea_headers  # Gitea sends GitHub's header too
    assert not GitHub.detects(gitea_headers)
    assert registry.detect(gitea_headers).name == "gitea"
    assert not GitHub.detects({"x-gogs-event": "push", "x-github-event": "push"})
    assert not GitHub.detects({"content-type": "application/json"})


def test_the_provider_is_registered_with_its_names() -> None:
    provider = registry.get_provider("github", "https://github.example.com/")
    assert isinstance(provider, GitHub)
    assert (provider.label, provider.social_backend, provider.token_username) == ("GitHub", "github", "x-access-token")
    assert provider.api_base == "https://github.example.com/api/v3"
    assert GitHub().api_base == "https://api.github.com"
    assert GitHub().web_base == "https://github.com"


@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("https://github.com/octo-org/hello-world", "", "octo-org/hello-world"),
        ("https://github.com/octo-org/hello-world.git", "", "octo-org/hello-world"),
        ("https://github.com/octo-org/hello-world/", "", "octo-org/hello-world"),
        ("git@github.com:octo-org/hello-world.git", "", "octo-org/hello-world"),
        ("ssh://git@ghe.example.com:2222/octo-org/hello-world.git", "https://ghe.example.com", "octo-org/hello-world"),
        ("https://example.com/ghe/octo-org/hello-world.git", "https://example.com/ghe", "octo-org/hello-world"),
    ],
)
def test_repo_path(url: str, host: str, expected: str) -> None:
    assert GitHub(host).repo_path(url) == expected


@pytest.mark.parametrize("url", ["https://github.com/octo-org", "/srv/git/app", "https://github.com/a/b/tree/main"])
def test_repo_path_refuses_what_is_not_owner_and_name(url: str) -> None:
    with pytest.raises(ProviderError):
        GitHub().repo_path(url)


def test_token_answers() -> None:
    answer = {"access_token": "a", "refresh_token": "r", "expires_in": 28800, "token_type": "bearer"}
    tokens = token_set(answer, "GitHub")
    assert tokens.access_token == "a" and tokens.refresh_token == "r"
    assert abs(tokens.expires_at - (datetime.now(UTC) + timedelta(seconds=28800))) < timedelta(seconds=5)
    assert token_set({"access_token": "a"}, "GitHub").expires_at is None
    with pytest.raises(ProviderError, match="bad_refresh_token"):
        # GitHub answers a refused refresh with status 200 and an error code.
        token_set({"error": "bad_refresh_token", "error_description": "The refresh token is incorrect"}, "GitHub")
    with pytest.raises(ProviderError, match="without an access token"):
        token_set({"token_type": "bearer"}, "GitHub")


# --- API against the fake (``fake`` and ``alice`` come from conftest) ------------------------------------
def test_list_repositories_follows_every_page(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    for index in range(5):
        fake.add_repo(f"alice/app{index}", repo.path, admins={"alice"} if index % 2 == 0 else set(),
                      readers=set() if index % 2 == 0 else {"alice"})
    fake.add_repo("someone/private", repo.path, admins={"someone"})
    repos = GitHub(fake.url).list_repositories(alice.token)
    assert [r.full_name for r in repos] == [f"alice/app{i}" for i in range(5)]
    assert [r.permissions["admin"] for r in repos] == [True, False, True, False, True]
    assert all(r.permissions["pull"] for r in repos)
    assert repos[0].url == f"{fake.url}/alice/app0" and repos[0].clone_url == f"{fake.url}/alice/app0.git"
    assert repos[0].default_branch == "main"
    calls = fake.calls("GET", r"^/api/v3/user/repos$")
    assert len(calls) == 3  # page size 2: pages 1, 2 and 3
    assert all(h["authorization"] == f"Bearer {alice.token}" for h in calls)
    assert all(h["accept"] == "application/vnd.github+json" for h in calls)


def test_a_bad_token_is_a_401_whose_message_holds_no_token(fake: FakeScm) -> None:
    exc = provider_error(GitHub(fake.url).list_repositories, "ghp_not-a-valid-token")
    assert exc.status == 401
    assert "ghp_not-a-valid-token" not in str(exc)


def test_fetch_file_at_a_ref(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo(".devops.yml on main\n", files={"sub/dir/conf.txt": "nested ü\n"})
    first = repo.head()
    second = branch_with(repo, "feature/x", {".devops.yml": "on feature\n"})
    fake.add_repo("alice/app", repo.path, admins={"alice"})
    gh = GitHub(fake.url)
    assert gh.fetch_file(alice.token, "alice/app", ".devops.yml", "main") == ".devops.yml on main\n"
    assert gh.fetch_file(alice.token, "alice/app", ".devops.yml", "feature/x") == "on feature\n"
    assert gh.fetch_file(alice.token, "alice/app", ".devops.yml", first) == ".devops.yml on main\n"
    assert gh.fetch_file(alice.token, "alice/app", ".devops.yml", second) == "on feature\n"
    assert gh.fetch_file(alice.token, "alice/app", "sub/dir/conf.txt", "main") == "nested ü\n"
    assert gh.fetch_file(alice.token, "alice/app", ".gitlab-ci.yml", "main") is None
    assert gh.fetch_file(alice.token, "alice/app", "sub", "main") is None  # a directory is not a file
    assert gh.fetch_file(alice.token, "alice/app", ".devops.yml", "no-such-branch") is None


def test_fetch_file_of_a_repository_the_user_cannot_see_is_none(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("bob/secret", make_repo(".devops.yml").path, admins={"bob"}, private=True)
    fake.add_repo("bob/public", make_repo("public\n").path, admins={"bob"})
    gh = GitHub(fake.url)
    assert gh.fetch_file(alice.token, "bob/secret", ".devops.yml", "main") is None
    assert gh.fetch_file(alice.token, "bob/public", ".devops.yml", "main") == "public\n"
    assert provider_error(gh.create_webhook, alice.token, "bob/public", "https://ci.example.com/h/", "s").status == 403


def test_head_commit(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    repo.branch("release/1.x")
    release = repo.commit({"a": "1"})
    fake.add_repo("alice/app", repo.path, readers={"alice"})
    gh = GitHub(fake.url)
    assert gh.head_commit(alice.token, "alice/app", "main") == repo.shas[0]
    assert gh.head_commit(alice.token, "alice/app", "release/1.x") == release
    assert provider_error(gh.head_commit, alice.token, "alice/app", "gone").status == 404


def test_api_calls_refuse_a_repository_name_that_would_leave_the_repos_path(fake: FakeScm, alice) -> None:
    with pytest.raises(ProviderError, match="not an owner/name"):
        GitHub(fake.url).head_commit(alice.token, "../../user", "main")
    assert fake.requests == []


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("alice/app", make_repo().path, admins={"alice"})
    gh = GitHub(fake.url)
    hook_id = gh.create_webhook(alice.token, "alice/app", "https://ci.example.com/hooks/pipelines/1/", "s3cret")
    assert hook_id.isdigit()
    stored = repo.hooks[hook_id]
    assert stored["config"] == {"url": "https://ci.example.com/hooks/pipelines/1/", "content_type": "json",
                                "secret": "s3cret", "insecure_ssl": "0"}
    assert stored["events"] == ["push", "pull_request"] and stored["active"] is True
    assert_webhook_lifecycle(gh, alice.token, "alice/app", hook_id, repo)
    assert not gh.webhook_exists(alice.token, "alice/app", "999999")


def test_a_non_admin_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("alice/app", make_repo().path, readers={"alice"})
    exc = provider_error(GitHub(fake.url).create_webhook, alice.token, "alice/app", "https://ci.example.com/h/",
                         "topsecret")
    assert exc.status == 403
    assert "topsecret" not in str(exc) and alice.token not in str(exc)
    assert repo.hooks == {}


def test_post_status_is_recorded_with_a_short_description(fake: FakeScm, alice, make_repo) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("alice/app", git_repo.path, admins={"alice"})
    gh = GitHub(fake.url)
    sha = git_repo.head()
    gh.post_status(alice.token, "alice/app", sha, "pending", target_url="https://ci.example.com/e/1",
                   description="Queued", context="devops/pipeline")
    gh.post_status(alice.token, "alice/app", sha, "failure", target_url="https://ci.example.com/e/1",
                   description="x" * 300, context="devops/pipeline")
    assert [s["state"] for s in repo.statuses] == ["pending", "failure"]
    assert repo.statuses[0] == status_row(sha, "pending", "pending", target_url="https://ci.example.com/e/1",
                                          description="Queued", context="devops/pipeline")
    assert len(repo.statuses[1]["description"]) == 140 and repo.statuses[1]["description"].endswith("...")


def test_post_status_for_an_unknown_commit_is_an_error(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("alice/app", make_repo().path, admins={"alice"})
    exc = unknown_commit_error(GitHub(fake.url), alice.token, "alice/app", target_url="", context="c")
    assert exc.status == 422


def _has_oauth_route(provider: str) -> bool:
    return any(m == "POST" and p.match("/login/oauth/access_token") for m, p, _ in ROUTES.get(provider, []))


def test_refresh_token(fake: FakeScm, alice) -> None:
    if not _has_oauth_route("github"):
        pytest.skip("the fake's OAuth endpoints (fake_scm/oauth.py) have not landed")
    gh = GitHub(fake.url)
    tokens, issued, _ = refresh_once(gh, fake, "client-1", "client-secret-1")
    assert tokens.access_token and tokens.access_token != issued["access_token"]
    assert tokens.refresh_token
    assert tokens.expires_at is not None and tokens.expires_at > datetime.now(UTC) + timedelta(seconds=7000)
    gh.list_repositories(tokens.access_token)  # the new token works
    exc = provider_error(gh.refresh_token, "client-1", "client-secret-1", "not-a-refresh-token")
    assert "not-a-refresh-token" not in str(exc) and "client-secret-1" not in str(exc)
