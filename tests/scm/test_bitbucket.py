"""Bitbucket Cloud: deliveries (signature, parsing, detection apart from Bitbucket Server) from
documented-shape fixtures, and every API call against the fake Bitbucket over real HTTP, with files read
from real git repositories."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devops.scm import registry
from devops.scm.base import ProviderError, WebhookRejected
from devops.scm.bitbucket import BitbucketCloud, status_key
from devops.scm.bitbucket_server import BitbucketServer
from devops.testing.fake_scm import FakeScm

FIXTURES = Path(__file__).parent / "fixtures" / "bitbucket"
HEADERS = json.loads((FIXTURES / "headers.json").read_text())
SECRET = "webhook-secret-5d4c3b"
HEAD = "ed0e0bfd9a94bcfab2b7bafb49a801be4eb9fbab"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(name: str, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    """A fixture's (lower-cased headers, body) signed with ``secret`` the way Bitbucket signs it."""
    body = (FIXTURES / f"{name}.json").read_bytes()
    headers = {k.lower(): v for k, v in HEADERS[name].items()}
    headers["x-hub-signature"] = sign(body, secret)
    return headers, body


def changed(name: str, change) -> tuple[dict[str, str], bytes]:
    headers, body = delivery(name)
    data = json.loads(body)
    change(data)
    body = json.dumps(data).encode()
    headers["x-hub-signature"] = sign(body)
    return headers, body


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_secret_and_no_other(name: str) -> None:
    provider = BitbucketCloud()
    headers, body = delivery(name)
    provider.verify(headers, body, SECRET)
    with pytest.raises(WebhookRejected) as wrong:
        provider.verify(headers, body, "another-secret")
    assert wrong.value.status == 401 and "X-Hub-Signature" in wrong.value.message
    headers.pop("x-hub-signature")
    with pytest.raises(WebhookRejected) as missing:
        provider.verify(headers, body, SECRET)
    assert missing.value.status == 401 and missing.value.message == "missing X-Hub-Signature"


def test_an_empty_secret_verifies_nothing() -> None:
    headers, body = delivery("push", secret="")
    with pytest.raises(WebhookRejected) as exc:
        BitbucketCloud().verify(headers, body, "")
    assert exc.value.status == 401


def test_a_body_changed_after_signing_is_rejected() -> None:
    headers, body = delivery("push")
    with pytest.raises(WebhookRejected) as exc:
        BitbucketCloud().verify(headers, body.replace(b'"main"', b'"evil"'), SECRET)
    assert exc.value.status == 401


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
        deleted = json.loads((FIXTURES / "push_deleted.json").read_text())["push"]["changes"][0]
        data["push"]["changes"].insert(0, deleted)

    event = BitbucketCloud().parse(*changed("push", prepend_deletion))
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
    with pytest.raises(WebhookRejected) as exc:
        BitbucketCloud().parse(*changed(name, change))
    assert exc.value.status == 400 and message in exc.value.message


@pytest.mark.parametrize("body", [b"not json", b"[]", b""])
def test_a_body_that_is_not_a_json_object_is_a_400(body: bytes) -> None:
    headers, _ = delivery("push")
    with pytest.raises(WebhookRejected) as exc:
        BitbucketCloud().parse(headers, body)
    assert exc.value.status == 400


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
    with pytest.raises(ProviderError):
        BitbucketCloud().repo_path(url)


def test_bases_follow_the_host() -> None:
    assert BitbucketCloud().api_url == "https://api.bitbucket.org/2.0"
    assert BitbucketCloud().web_url == "https://bitbucket.org"
    assert BitbucketCloud("http://127.0.0.1:9").api_url == "http://127.0.0.1:9/2.0"


def test_status_keys_are_stable_and_short() -> None:
    assert status_key("devops/app") == "devops/app"
    long = "devops/" + "a-very-long-pipeline-name" * 3
    assert len(status_key(long)) == 40 and status_key(long) == status_key(long)
    assert status_key(long) != status_key(long + "x")


# --- API against the fake ---------------------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeScm]:
    server = FakeScm("bitbucket").start()
    yield server
    server.stop()


@pytest.fixture
def alice(fake: FakeScm):
    return fake.add_user("alice")


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
    with pytest.raises(ProviderError) as exc:
        BitbucketCloud(fake.url).list_repositories("not-a-token")
    assert exc.value.status == 401 and "not-a-token" not in str(exc.value)


def test_fetch_file_at_a_ref(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo("on main\n", files={"ci/nested/conf.txt": "nested ü\n"})
    first = repo.head()
    repo.branch("feature/x")
    repo.commit({".devops.yml": "on the branch\n"})
    repo.checkout("main")
    repo.tag("v1")
    fake.add_repo("acme/app", repo.path, admins={"alice"})
    bb = BitbucketCloud(fake.url)
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "main") == "on main\n"
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "feature/x") == "on the branch\n"
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", first) == "on main\n"
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "v1") == "on main\n"
    assert bb.fetch_file(alice.token, "acme/app", "ci/nested/conf.txt", "main") == "nested ü\n"
    assert bb.fetch_file(alice.token, "acme/app", "missing.yml", "main") is None
    assert bb.fetch_file(alice.token, "acme/app", ".devops.yml", "no-such-branch") is None
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
    bb = BitbucketCloud(fake.url)
    assert bb.head_commit(alice.token, "acme/app", "main") == main
    assert bb.head_commit(alice.token, "acme/app", "release/1.x") == feature
    with pytest.raises(ProviderError) as exc:
        bb.head_commit(alice.token, "acme/app", "gone")
    assert exc.value.status == 404


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/app", make_repo().path, admins={"alice"})
    bb = BitbucketCloud(fake.url)
    hook_id = bb.create_webhook(alice.token, "acme/app", "https://ci.example.com/hooks/pipelines/3/", SECRET)
    assert hook_id.startswith("{") and hook_id.endswith("}")
    assert repo.hooks[hook_id] == {
        "id": hook_id,
        "url": "https://ci.example.com/hooks/pipelines/3/",
        "description": "devops CI",
        "active": True,
        "events": ["repo:push", "pullrequest:created", "pullrequest:updated"],
        "secret": SECRET,
    }
    assert bb.webhook_exists(alice.token, "acme/app", hook_id)
    assert fake.calls("GET", r"/hooks/%7B[0-9a-f-]+%7D$")  # the braces travel encoded
    bb.delete_webhook(alice.token, "acme/app", hook_id)
    assert repo.hooks == {}
    assert not bb.webhook_exists(alice.token, "acme/app", hook_id)
    bb.delete_webhook(alice.token, "acme/app", hook_id)  # already gone: not an error
    assert not bb.webhook_exists(alice.token, "acme/app", "../../x")


def test_a_non_admin_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/app", make_repo().path, readers={"alice"})
    with pytest.raises(ProviderError) as exc:
        BitbucketCloud(fake.url).create_webhook(alice.token, "acme/app", "https://ci.example.com/h/", SECRET)
    assert exc.value.status == 403 and SECRET not in str(exc.value)
    assert repo.hooks == {}


@pytest.mark.parametrize(
    ("state", "provider_state", "recorded"),
    [("pending", "INPROGRESS", "pending"), ("success", "SUCCESSFUL", "success"), ("failure", "FAILED", "failure"),
     ("error", "FAILED", "failure")],
)  # fmt: skip
def test_post_status_maps_the_state(fake: FakeScm, alice, make_repo, state, provider_state, recorded) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("acme/app", git_repo.path, admins={"alice"})
    sha = git_repo.head()
    BitbucketCloud(fake.url).post_status(
        alice.token, "acme/app", sha, state,
        target_url="https://ci.example.com/executions/1/", description="#1 done", context="devops/app",
    )  # fmt: skip
    assert repo.statuses == [
        {
            "sha": sha,
            "state": recorded,
            "provider_state": provider_state,
            "target_url": "https://ci.example.com/executions/1/",
            "description": "#1 done",
            "context": "devops/app",
        }
    ]


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
    with pytest.raises(ProviderError) as exc:
        BitbucketCloud(fake.url).post_status(
            alice.token, "acme/app", "1" * 40, "success", target_url="https://ci.example.com/", description="",
            context="devops/app",
        )  # fmt: skip
    assert exc.value.status == 404


def test_refresh_token(fake: FakeScm, alice) -> None:
    fake.oauth_clients["consumer-key"] = "consumer-secret"
    old_refresh = fake.issue_tokens("alice")["refresh_token"]
    before = datetime.now(UTC)
    tokens = BitbucketCloud(fake.url).refresh_token("consumer-key", "consumer-secret", old_refresh)
    assert tokens.access_token == fake.users["alice"].token
    assert tokens.refresh_token
    assert tokens.expires_at is not None and tokens.expires_at > before + timedelta(seconds=7100)
    auth = fake.calls("POST", r"^/site/oauth2/access_token$")[-1]["authorization"]
    assert auth.startswith("Basic ")  # the consumer authenticates with HTTP Basic
    with pytest.raises(ProviderError) as bad:
        BitbucketCloud(fake.url).refresh_token("consumer-key", "wrong", tokens.refresh_token)
    assert bad.value.status == 400 and "wrong" not in str(bad.value)
