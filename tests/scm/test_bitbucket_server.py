"""Bitbucket Server / Data Center: deliveries (signature, parsing, detection apart from Bitbucket Cloud)
from documented-shape fixtures, and every API call against the fake Bitbucket Server over real HTTP,
with files read from real git repositories."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from scm_support import (
    HOOK_URL,
    Deliveries,
    Delivery,
    assert_fetches_by_ref,
    assert_no_webhook_without_admin,
    assert_verifies_only_with,
    assert_webhook_lifecycle,
    hub_signed,
    post_one_status,
    provider_error,
    rejection,
    status_row,
    two_branch_repo,
)

from devops.scm import registry
from devops.scm.bitbucket import BitbucketCloud
from devops.scm.bitbucket_server import BitbucketServer
from devops.testing.fake_scm import FakeScm

PROVIDER = "bitbucket-server"
DELIVERIES = Deliveries("bitbucket_server")
HEADERS = DELIVERIES.headers
SECRET = "webhook-secret-7e6f5a"
NEW = "ef8755f06ee4b28c96a847a95cb8ec8ed6ddd1ca"


def delivery(name: str, secret: str = SECRET, change: Callable[[Any], object] | None = None) -> Delivery:
    return hub_signed(DELIVERIES, name, secret, change)


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_secret_and_no_other(name: str) -> None:
    assert_verifies_only_with(BitbucketServer(), *delivery(name), SECRET, "X-Hub-Signature")


def test_an_empty_secret_verifies_nothing() -> None:
    assert rejection(BitbucketServer().verify, *delivery("push", secret=""), "").status == 401


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_detection_picks_bitbucket_server_not_cloud(name: str) -> None:
    headers, _ = delivery(name)
    assert registry.detect(headers) is BitbucketServer
    assert not BitbucketCloud.detects(headers)


def test_detection_without_a_request_id_relies_on_known_event_keys() -> None:
    assert BitbucketServer.detects({"x-event-key": "repo:refs_changed"})
    assert not BitbucketServer.detects({"x-event-key": "something:else"})
    assert BitbucketServer.detects({"x-event-key": "something:else", "x-request-id": "1"})
    # A Cloud delivery (it has a hook UUID) is never taken for a Server one.
    assert not BitbucketServer.detects({"x-event-key": "repo:refs_changed", "x-request-id": "1", "x-hook-uuid": "{x}"})


def test_ping() -> None:
    event = BitbucketServer().parse(*delivery("diagnostics_ping"))
    assert event.kind == "ping" and event.delivery_id == HEADERS["diagnostics_ping"]["X-Request-Id"]


def test_push_updating_a_branch() -> None:
    event = BitbucketServer().parse(*delivery("push"))
    assert event.kind == "push" and event.branch == "master" and event.commit == NEW
    assert event.author == "admin" and event.repository == "PROJ/app"
    assert event.delivery_id == HEADERS["push"]["X-Request-Id"]


def test_push_adding_a_branch() -> None:
    event = BitbucketServer().parse(*delivery("push_branch_created"))
    assert event.kind == "push" and event.branch == "feature/login" and event.commit == NEW


def test_push_of_a_tag_leaves_the_commit_to_be_resolved() -> None:
    event = BitbucketServer().parse(*delivery("push_tag"))
    assert event.kind == "tag" and event.tag == "v1.2.0" and event.branch == ""
    assert event.commit == ""  # toHash may be an annotated tag object, not a commit


def test_a_deleted_branch_is_ignored() -> None:
    event = BitbucketServer().parse(*delivery("push_deleted"))
    assert event.kind == "ignored" and event.reason == "branch feature/login was deleted"


def test_a_push_that_deletes_one_ref_and_updates_another_builds_the_update() -> None:
    def add_update(data: dict) -> None:
        update = DELIVERIES.data("push")["changes"][0]
        data["changes"].append(update)

    event = BitbucketServer().parse(*delivery("push_deleted", change=add_update))
    assert event.kind == "push" and event.branch == "master"


def test_pull_request_opened() -> None:
    event = BitbucketServer().parse(*delivery("pr_opened"))
    assert event.kind == "pull_request"
    assert event.branch == "master" and event.source_branch == "feature/login"
    assert event.commit == NEW
    assert event.fetch_ref == "refs/pull-requests/1/from"
    assert event.pr_number == 1 and event.pr_action == "opened"
    assert event.message == "Add the login page" and event.author == "admin"
    assert event.repository == "PROJ/app"


def test_pull_request_source_branch_updated() -> None:
    event = BitbucketServer().parse(*delivery("pr_from_ref_updated"))
    assert event.kind == "pull_request" and event.pr_action == "from_ref_updated"
    assert event.commit == "5c3e7a9b1d2f4e6a8c0b2d4f6e8a0c2b4d6f8e0a"


@pytest.mark.parametrize("key", ["pr:merged", "pr:declined", "pr:modified", "pr:reviewer:approved", "repo:forked"])
def test_other_events_are_ignored(key: str) -> None:
    headers, body = delivery("pr_merged")
    headers["x-event-key"] = key
    event = BitbucketServer().parse(headers, body)
    assert event.kind == "ignored" and key in event.reason


def test_delivery_id_falls_back_to_a_digest_of_the_body() -> None:
    headers, body = delivery("push")
    headers.pop("x-request-id")
    assert BitbucketServer().parse(headers, body).delivery_id == "sha256-" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("push", lambda d: d.pop("changes"), "missing field changes"),
        ("push", lambda d: d["changes"][0].pop("toHash"), "missing field toHash"),
        ("push", lambda d: d["changes"][0].update(toHash="abc"), "not a commit id"),
        ("push", lambda d: d["changes"][0]["ref"].update(displayId="x..y"), "invalid branch"),
        ("push", lambda d: d["changes"].append(1), None),  # the first change still builds
        ("pr_opened", lambda d: d["pullRequest"].pop("id"), "missing field id"),
        ("pr_opened", lambda d: d["pullRequest"]["fromRef"].pop("latestCommit"), "fromRef.latestCommit"),
        ("pr_opened", lambda d: d["pullRequest"].pop("toRef"), "missing field toRef"),
    ],
)
def test_malformed_deliveries_are_a_400(name: str, change, message: str | None) -> None:
    if message is None:
        assert BitbucketServer().parse(*delivery(name, change=change)).kind == "push"
        return
    exc = rejection(BitbucketServer().parse, *delivery(name, change=change))
    assert exc.status == 400 and message in exc.message


@pytest.mark.parametrize("body", [b"not json", b"[]", b""])
def test_a_body_that_is_not_a_json_object_is_a_400(body: bytes) -> None:
    headers, _ = delivery("push")
    assert rejection(BitbucketServer().parse, headers, body).status == 400


# --- paths ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("https://bitbucket.example.com/scm/proj/app.git", "https://bitbucket.example.com", "PROJ/app"),
        ("https://bitbucket.example.com/projects/PROJ/repos/app/browse", "https://bitbucket.example.com", "PROJ/app"),
        ("https://bitbucket.example.com/projects/proj/repos/app", "https://bitbucket.example.com", "PROJ/app"),
        ("https://bitbucket.example.com/users/jdoe/repos/app/browse", "https://bitbucket.example.com", "~jdoe/app"),
        ("https://bitbucket.example.com/scm/~jdoe/app.git", "https://bitbucket.example.com", "~jdoe/app"),
        ("ssh://git@bitbucket.example.com:7999/proj/app.git", "https://bitbucket.example.com", "PROJ/app"),
        ("https://example.com/bitbucket/scm/proj/app.git", "https://example.com/bitbucket", "PROJ/app"),
    ],
)
def test_repo_path(url: str, host: str, expected: str) -> None:
    assert BitbucketServer(host).repo_path(url) == expected


@pytest.mark.parametrize(
    "url", ["https://bitbucket.example.com/scm/proj", "https://bitbucket.example.com/a/b/c", "https://h/scm/../x.git"]
)
def test_repo_path_refuses_what_is_not_a_repository_url(url: str) -> None:
    provider_error(BitbucketServer("https://bitbucket.example.com").repo_path, url)


def test_the_api_needs_a_host() -> None:
    provider_error(BitbucketServer().list_repositories, "token")
    assert BitbucketServer("https://bb.example.com/").api_url == "https://bb.example.com/rest/api/1.0"


def test_tokens_cannot_be_refreshed() -> None:
    provider_error(BitbucketServer("https://bb.example.com").refresh_token, "id", "secret", "refresh")


# --- API against the fake (``fake`` and ``alice`` come from conftest) -------------------------------------
def test_list_repositories_pages_with_start_and_keeps_admin_ones(fake: FakeScm, alice, make_repo) -> None:
    path = make_repo().path
    for index in range(5):
        fake.add_repo(f"PROJ/app{index}", path, admins={"alice"})
    fake.add_repo("PROJ/readonly", path, readers={"alice"})
    fake.add_repo("OTHER/public", path, admins={"bob"})
    repos = BitbucketServer(fake.url).list_repositories(alice.token)
    assert sorted(r.full_name for r in repos) == [f"PROJ/app{i}" for i in range(5)]
    first = {r.full_name: r for r in repos}["PROJ/app0"]
    assert first.clone_url == f"{fake.url}/scm/proj/app0.git"
    assert first.url == f"{fake.url}/projects/PROJ/repos/app0/browse"
    assert BitbucketServer(fake.url).repo_path(first.clone_url) == "PROJ/app0"
    assert all(r.permissions["admin"] for r in repos)
    calls = fake.calls("GET", r"^/rest/api/1\.0/repos$")
    assert len(calls) == 3 and all(h["authorization"] == f"Bearer {alice.token}" for h in calls)


def test_list_repositories_with_a_bad_token_is_a_401(fake: FakeScm, alice) -> None:
    exc = provider_error(BitbucketServer(fake.url).list_repositories, "not-a-token")
    assert exc.status == 401 and "not-a-token" not in str(exc)


def test_fetch_file_at_a_ref(fake: FakeScm, alice, make_repo) -> None:
    repo, first = two_branch_repo(make_repo)
    fake.add_repo("PROJ/app", repo.path, admins={"alice"})
    assert_fetches_by_ref(BitbucketServer(fake.url), alice.token, "PROJ/app", first)


def test_fetch_file_of_a_repository_the_user_cannot_see_is_none(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("BOB/secret", make_repo("secret\n").path, admins={"bob"}, private=True)
    assert BitbucketServer(fake.url).fetch_file(alice.token, "BOB/secret", ".devops.yml", "main") is None


def test_head_commit_picks_the_exact_branch_among_filtered_pages(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    main = repo.head()
    for name in ("feature/a-main", "feature/b-main", "main-old", "release/main"):  # all match filterText=main
        repo.branch(name, main)
        repo.commit({name.replace("/", "-"): "x\n"})
    fake.add_repo("PROJ/app", repo.path, readers={"alice"})
    bbs = BitbucketServer(fake.url)
    assert bbs.head_commit(alice.token, "PROJ/app", "main") == main
    assert len(fake.calls("GET", r"/branches$")) == 2  # two per page: "main" is third of five matches
    assert bbs.head_commit(alice.token, "PROJ/app", "release/main") == repo.head("release/main")
    assert provider_error(bbs.head_commit, alice.token, "PROJ/app", "gone").status == 404


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("PROJ/app", make_repo().path, admins={"alice"})
    bbs = BitbucketServer(fake.url)
    hook_id = bbs.create_webhook(alice.token, "PROJ/app", HOOK_URL, SECRET)
    assert hook_id.isdigit()
    hook = repo.hooks[hook_id]
    assert hook["url"] == HOOK_URL and hook["secret"] == SECRET
    assert hook["events"] == ["repo:refs_changed", "pr:opened", "pr:from_ref_updated"] and hook["active"]
    assert_webhook_lifecycle(bbs, alice.token, "PROJ/app", hook_id, repo)


def test_a_non_admin_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("PROJ/app", make_repo().path, readers={"alice"})
    assert_no_webhook_without_admin(BitbucketServer(fake.url), alice.token, "PROJ/app", repo, SECRET)


@pytest.mark.parametrize(
    ("state", "provider_state", "recorded"),
    [("pending", "INPROGRESS", "pending"), ("success", "SUCCESSFUL", "success"), ("failure", "FAILED", "failure"),
     ("error", "FAILED", "failure")],
)  # fmt: skip
def test_post_status_maps_the_state(fake: FakeScm, alice, make_repo, state, provider_state, recorded) -> None:
    repo, sha = post_one_status(BitbucketServer(fake.url), fake, make_repo, alice, "PROJ/app", state)
    assert repo.statuses == [status_row(sha, recorded, provider_state, description="#1 done", context="devops/app")]
    assert fake.calls("POST", rf"^/rest/build-status/1\.0/commits/{sha}$")


def test_post_status_by_a_reader_is_refused(fake: FakeScm, alice, make_repo) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("PROJ/app", git_repo.path, readers={"alice"})
    exc = provider_error(
        BitbucketServer(fake.url).post_status, alice.token, "PROJ/app", git_repo.head(), "success",
        target_url="https://ci.example.com/", description="", context="devops/app",
    )  # fmt: skip
    assert exc.status == 403 and repo.statuses == []
