"""Bitbucket Cloud: deliveries (signature, parsing, detection apart from Bitbucket Server) from
documented-shape fixtures, and every API call against the fake Bitbucket over real HTTP, with files read
from real git repositories."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from scm_support import (
    HOOK_URL,
    Deliveries,
    Delivery,
    assert_branch_heads,
    assert_fetches_by_ref,
    assert_no_webhook_without_admin,
    assert_verifies_only_with,
    assert_webhook_lifecycle,
    hub_signed,
    post_one_status,
    provider_error,
    refresh_once,
    rejection,
    status_row,
    two_branch_repo,
    unknown_commit_error,
)

from devops.scm import registry
from devops.scm.bitbucket import BitbucketCloud, status_key
from devops.scm.bitbucket_server import BitbucketServer
from devops.testing.fake_scm import FakeScm

PROVIDER = "bitbucket"
DELIVERIES = Deliveries("bitbucket")
HEADERS = DELIVERIES.headers
SECRET = "webhook-secret-5d4c3b"
HEAD = "ed0e0bfd9a94bcfab2b7bafb49a801be4eb9fbab"


def delivery(name: str, secret: str = SECRET, change: Callable[[Any], object] | None = None) -> Delivery:
    """A fixture's (lower-cased headers, body), edited by ``change``, signed the way Bitbucket signs."""
    return hub_signed(DELIVERIES, name, secret, change)


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_secret_and_no_other(name: str) -> None:
    assert_verifies_only_with(BitbucketCloud(), *delivery(name), SECRET, "X-Hub-Signature")


def test_an_empty_secret_verifies_nothing() -> None:
    assert rejection(BitbucketCloud().verify, *delivery("push", secret=""), "").status == 401


def test_a_body_changed_after_signing_is_rejected() -> None:
    headers, body = delivery("push")
    assert rejection(BitbucketCloud().verify, headers, body.replace(b'"main"', b'"evil"'), SECRET).status == 401


def test_signature_hex_case_does_not_matter() -> None:
    headers, body = delivery("push")
    headers["x-hub-signature"] = "sha256=" + headers["x-hub-signature"][7:].upper()
    BitbucketCloud().verify(headers, body, SECRET)


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_detection_picks_bitbucket_cloud_not_server(name: str) -> None:
    headers, _ = delivery(name)
    assert registry.detect(headers) is BitbucketCloud
    assert not BitbucketServer.detects(headers)
    headers.pop("x-hook-uuid")  # without the hook UUID it is not Cloud
    assert not BitbucketCloud.detects(headers)


def test_push_to_a_branch() -> None:
    event = BitbucketCloud().parse(*delivery("push"))
    assert event.kind == "push" and event.branch == "main" and event.tag == ""
    assert event.commit == HEAD  # push payloads carry full hashes
    assert event.message.startswith("Add the login page\n")
    assert event.author == "jdoe"
    assert event.repository == "acme/app"
    assert event.delivery_id == HEADERS["push"]["X-Request-UUID"]


def test_push_of_a_tag() -> None:
    event = BitbucketCloud().parse(*delivery("push_tag"))
    assert event.kind == "tag" and event.tag == "v1.2.0" and event.branch == ""
    assert event.commit == HEAD


def test_a_deleted_branch_is_ignored() -> None:
    event = BitbucketCloud().parse(*delivery("push_deleted"))
    assert event.kind == "ignored" and event.reason == "feature/login was deleted"


def test_the_first_change_that_has_a_new_ref_is_built() -> None:
    def prepend_deletion(data: dict) -> None:
        deleted = DELIVERIES.data("push_deleted")["push"]["changes"][0]
        data["push"]["changes"].insert(0, deleted)

    event = BitbucketCloud().parse(*delivery("push", change=prepend_deletion))
    assert event.kind == "push" and event.branch == "main"


def test_pull_request_created_keeps_the_abbreviated_hash() -> None:
    event = BitbucketCloud().parse(*delivery("pullrequest_created"))
    assert event.kind == "pull_request"
    assert event.branch == "main" and event.source_branch == "feature/login"
    # Bitbucket names the head by a 12-character hash only; processing resolves it on the source branch.
    assert event.commit == HEAD[:12]
    assert event.fetch_ref == "refs/heads/feature/login"
    assert event.pr_number == 6 and event.pr_action == "created"
    assert event.message == "Add the login page" and event.author == "jdoe"
    assert event.repository == "acme/app"


def test_pull_request_updated() -> None:
    event = BitbucketCloud().parse(*delivery("pullrequest_updated"))
    assert event.kind == "pull_request" and event.pr_action == "updated" and event.commit == HEAD[:12]


def test_a_pull_request_from_a_fork_is_ignored() -> None:
    event = BitbucketCloud().parse(*delivery("pullrequest_created_fork"))
    assert event.kind == "ignored" and "jdoe/app" in event.reason and event.pr_number == 6


@pytest.mark.parametrize(
    "key", ["pullrequest:fulfilled", "pullrequest:rejected", "repo:commit_status_created", "repo:commit_status_updated"]
)
def test_other_events_are_ignored(key: str) -> None:
    headers, body = delivery("pullrequest_fulfilled")
    headers["x-event-key"] = key
    event = BitbucketCloud().parse(headers, body)
    assert event.kind == "ignored" and key in event.reason


def test_delivery_id_falls_back_to_a_digest_of_the_body() -> None:
    headers, body = delivery("push")
    headers.pop("x-request-uuid")
    assert BitbucketCloud().parse(headers, body).delivery_id == "sha256-" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("push", lambda d: d.pop("push"), "missing field push.changes"),
        ("push", lambda d: d["push"].update(changes={}), "push.changes is not a list"),
        ("push", lambda d: d["push"]["changes"][0]["new"].pop("name"), "missing field name"),
        ("push", lambda d: d["push"]["changes"][0]["new"]["target"].update(hash="zz"), "not a commit id"),
        ("push", lambda d: d["push"]["changes"][0]["new"].update(name="a b"), "invalid branch name"),
        ("pullrequest_created", lambda d: d["pullrequest"].pop("id"), "missing field id"),
        ("pullrequest_created", lambda d: d["pullrequest"]["source"]["commit"].update(hash="xyz"), "not a commit id"),
        ("pullrequest_created", lambda d: d["pullrequest"]["destination"].pop("branch"), "destination.branch.name"),
    ],
)
def test_malformed_deliveries_are_a_400(name: str, change, message: str) -> None:
    exc = rejection(BitbucketCloud().parse, *delivery(name, change=change))
    assert exc.status == 400 and message in exc.message


@pytest.mark.parametrize("body", [b"not json", b"[]", b""])
def test_a_body_that_is_not_a_json_object_is_a_400(body: bytes) -> None:
    headers, _ = delivery("push")
    assert rejection(BitbucketCloud().parse, headers, body).status == 400


# --- paths, keys ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://bitbucket.org/acme/app.git",
        "https://jdoe@bitbucket.org/acme/app.git",
        "git@bitbucket.org:acme/app.git",
        "https://bitbucket.org/acme/app/src/main/README.md",
    ],
)
def test_repo_path(url: str) -> None:
    assert BitbucketCloud().repo_path(url) == "acme/app"


@pytest.mark.parametrize("url", ["https://bitbucket.org/acme", "https://bitbucket.org/acme/../x", "nope"])
def test_repo_path_refuses_what_is_not_a_repository_url(url: str) -> None:
    provider_error(BitbucketCloud().repo_path, url)


def test_bases_follow_the_host() -> None:
    assert BitbucketCloud().api_url == "https://api.bitbucket.org/2.0"
    assert BitbucketCloud().web_url == "https://bitbucket.org"
    assert BitbucketCloud("http://127.0.0.1:9").api_url == "http://127.0.0.1:9/2.0"


def test_status_keys_are_stable_and_short() -> None:
    assert status_key("devops/app") == "devops/app"
    long = "devops/" + "a-very-long-pipeline-name" * 3
    assert len(status_key(long)) == 40 and status_key(long) == status_key(long)
    assert status_key(long) != status_key(long + "x")


# --- API against the fake (``fake`` and ``alice`` come from conftest) -------------------------------------
def test_list_repositories_follows_next_and_keeps_admin_ones(fake: FakeScm, alice, make_repo) -> None:
    path = make_repo().path
    for index in range(5):
        fake.add_repo(f"acme/app{index}", path, admins={"alice"}, default_branch="develop" if index == 2 else "main")
    fake.add_repo("acme/readonly", path, readers={"alice"})
    fake.add_repo("bob/public", path, admins={"bob"})
    repos = BitbucketCloud(fake.url).list_repositories(alice.token)
    assert sorted(r.full_name for r in repos) == [f"acme/app{i}" for i in range(5)]
    by_name = {r.full_name: r for r in repos}
    assert by_name["acme/app2"].default_branch == "develop"
    assert by_name["acme/app0"].url == f"{fake.url}/acme/app0"
    assert by_name["acme/app0"].clone_url == f"{fake.url}/acme/app0.git"  # without the user name
    assert all(r.permissions["admin"] for r in repos)
    calls = fake.calls("GET", r"^/2\.0/repositories$")
    assert len(calls) == 3 and all(h["authorization"] == f"Bearer {alice.token}" for h in calls)


def test_list_repositories_with_a_bad_token_is_a_401(fake: FakeScm, alice) -> None:
    exc = provider_error(BitbucketCloud(fake.url).list_repositories, "not-a-token")
    assert exc.status == 401 and "not-a-token" not in str(exc)


def test_fetch_file_at_a_ref(fake: FakeScm, alice, make_repo) -> None:
    repo, first = two_branch_repo(make_repo)
    repo.tag("v1")
    fake.add_repo("acme/app", repo.path, admins={"alice"})
    bb = BitbucketCloud(fake.url)
    assert_fetches_by_ref(bb, alice.token, "acme/app", first)
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "v1") == "on main\n"
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "no/such-branch") is None


def test_fetch_file_of_a_repository_the_user_cannot_see_is_none(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("bob/secret", make_repo("secret\n").path, admins={"bob"}, private=True)
    assert BitbucketCloud(fake.url).fetch_file(alice.token, "bob/secret", ".devops.yml", "main") is None


def test_head_commit(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    main = repo.head()
    repo.branch("release/1.x")
    feature = repo.commit({"a.txt": "a\n"})
    fake.add_repo("acme/app", repo.path, readers={"alice"})
    assert_branch_heads(BitbucketCloud(fake.url), alice.token, "acme/app", {"main": main, "release/1.x": feature})


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/app", make_repo().path, admins={"alice"})
    bb = BitbucketCloud(fake.url)
    hook_id = bb.create_webhook(alice.token, "acme/app", HOOK_URL, SECRET)
    assert hook_id.startswith("{") and hook_id.endswith("}")
    assert repo.hooks[hook_id] == {
        "id": hook_id,
        "url": HOOK_URL,
        "description": "devops CI",
        "active": True,
        "events": ["repo:push", "pullrequest:created", "pullrequest:updated"],
        "secret": SECRET,
    }
    assert_webhook_lifecycle(bb, alice.token, "acme/app", hook_id, repo)
    assert fake.calls("GET", r"/hooks/%7B[0-9a-f-]+%7D$")  # the braces travel encoded
    assert not bb.webhook_exists(alice.token, "acme/app", "../../x")


def test_a_non_admin_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/app", make_repo().path, readers={"alice"})
    assert_no_webhook_without_admin(BitbucketCloud(fake.url), alice.token, "acme/app", repo, SECRET)


@pytest.mark.parametrize(
    ("state", "provider_state", "recorded"),
    [("pending", "INPROGRESS", "pending"), ("success", "SUCCESSFUL", "success"), ("failure", "FAILED", "failure"),
     ("error", "FAILED", "failure")],
)  # fmt: skip
def test_post_status_maps_the_state(fake: FakeScm, alice, make_repo, state, provider_state, recorded) -> None:
    repo, sha = post_one_status(BitbucketCloud(fake.url), fake, make_repo, alice, "acme/app", state)
    assert repo.statuses == [status_row(sha, recorded, provider_state, description="#1 done", context="devops/app")]


def test_post_status_with_a_long_context_uses_a_short_stable_key(fake: FakeScm, alice, make_repo) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("acme/app", git_repo.path, admins={"alice"})
    context = "devops/" + "long-pipeline-name-" * 4
    for state in ("pending", "success"):
        BitbucketCloud(fake.url).post_status(
            alice.token, "acme/app", git_repo.head(), state, target_url="https://ci.example.com/e/1/",
            description="", context=context,
        )  # fmt: skip
    assert [s["context"] for s in repo.statuses] == [status_key(context)] * 2


def test_post_status_for_an_unknown_commit_is_an_error(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("acme/app", make_repo().path, admins={"alice"})
    assert unknown_commit_error(BitbucketCloud(fake.url), alice.token, "acme/app").status == 404


def test_refresh_token(fake: FakeScm, alice) -> None:
    tokens, _, before = refresh_once(BitbucketCloud(fake.url), fake, "consumer-key", "consumer-secret")
    assert tokens.access_token == fake.users["alice"].token
    assert tokens.refresh_token
    assert tokens.expires_at is not None and tokens.expires_at > before + timedelta(seconds=7100)
    auth = fake.calls("POST", r"^/site/oauth2/access_token$")[-1]["authorization"]
    assert auth.startswith("Basic ")  # the consumer authenticates with HTTP Basic
    bad = provider_error(BitbucketCloud(fake.url).refresh_token, "consumer-key", "wrong", tokens.refresh_token)
    assert bad.status == 400 and "wrong" not in str(bad)
