"""GitLab: deliveries (token check, parsing, detection) from documented-shape fixtures, and every API
call against the fake GitLab over real HTTP, with files read from real git repositories and projects in
nested subgroups."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from scm_support import (
    HOOK_URL,
    Deliveries,
    assert_branch_heads,
    assert_fetches_by_ref,
    assert_no_webhook_without_admin,
    assert_verifies_only_with,
    assert_webhook_lifecycle,
    edited,
    post_one_status,
    provider_error,
    refresh_once,
    rejection,
    status_row,
    two_branch_repo,
    unknown_commit_error,
)

from devops.scm import registry
from devops.scm.gitlab import GitLab
from devops.testing.fake_scm import FakeScm

PROVIDER = "gitlab"
DELIVERIES = Deliveries("gitlab")
HEADERS = DELIVERIES.headers
SECRET = "webhook-secret-9a8b7c"


def delivery(name: str, token: str | None = SECRET) -> tuple[dict[str, str], bytes]:
    """A fixture's (lower-cased headers, body); GitLab sends the secret itself as X-Gitlab-Token."""
    headers, body = DELIVERIES(name)
    if token is not None:
        headers["x-gitlab-token"] = token
    return headers, body


# --- deliveries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_fixture_verifies_with_its_token_and_no_other(name: str) -> None:
    provider = GitLab()
    assert_verifies_only_with(provider, *delivery(name), SECRET, "X-Gitlab-Token")
    wrong = rejection(provider.verify, *delivery(name, token="another-secret"), SECRET)
    assert wrong.status == 401 and "X-Gitlab-Token" in wrong.message


def test_an_empty_secret_verifies_nothing() -> None:
    for token in ("", None):
        assert rejection(GitLab().verify, *delivery("push", token=token), "").status == 401


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_detection_picks_gitlab(name: str) -> None:
    headers, _ = delivery(name)
    assert registry.detect(headers) is GitLab
    assert GitLab.detects(headers)


def test_push_to_a_branch() -> None:
    event = GitLab().parse(*delivery("push"))
    assert event.kind == "push"
    assert event.branch == "main" and event.tag == ""
    assert event.commit == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert event.message == "fixed readme\n"  # the commit that is the push's head, not the first listed
    assert event.author == "jsmith"
    assert event.repository == "acme/platform/app"
    assert event.delivery_id == HEADERS["push"]["X-Gitlab-Event-UUID"]


def test_a_deleted_branch_is_ignored() -> None:
    event = GitLab().parse(*delivery("push_deleted"))
    assert event.kind == "ignored"
    assert event.reason == "branch feature/login was deleted"


def test_an_annotated_tag_builds_the_commit_it_points_at() -> None:
    event = GitLab().parse(*delivery("push_tag"))
    assert event.kind == "tag" and event.tag == "v1.0.0" and event.branch == ""
    # ``after`` is the tag object; ``checkout_sha`` the commit.
    assert event.commit == "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
    assert event.message == "Release 1.0.0\n"


def test_a_deleted_tag_is_ignored() -> None:
    headers, body = delivery("push_tag")
    body = edited(body, lambda d: d.update(before=d["after"], after="0" * 40, checkout_sha=None))
    event = GitLab().parse(headers, body)
    assert event.kind == "ignored" and event.reason == "tag v1.0.0 was deleted"


def test_merge_request_opened() -> None:
    event = GitLab().parse(*delivery("merge_request_open"))
    assert event.kind == "pull_request"
    assert event.branch == "main"  # the target: its pipeline file is used
    assert event.source_branch == "feature/login"
    assert event.commit == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert event.fetch_ref == "refs/merge-requests/7/head"  # from a fork, so only this ref has it
    assert event.pr_number == 7 and event.pr_action == "open"
    assert event.message == "Add the login page" and event.author == "root"
    assert event.repository == "acme/platform/app"


def test_merge_request_updated_with_new_commits() -> None:
    event = GitLab().parse(*delivery("merge_request_update"))
    assert event.kind == "pull_request" and event.pr_action == "update"
    assert event.commit == "e7d3f1a2b4c5d6e7f8091a2b3c4d5e6f7a8b9c0d"


def test_merge_request_updated_without_new_commits_is_ignored() -> None:
    event = GitLab().parse(*delivery("merge_request_update_title"))
    assert event.kind == "ignored"
    assert event.reason == "merge request !7 was updated without new commits"


def test_merge_request_reopened_builds() -> None:
    headers, body = delivery("merge_request_open")
    body = edited(body, lambda d: d["object_attributes"].update(action="reopen"))
    assert GitLab().parse(headers, body).kind == "pull_request"


@pytest.mark.parametrize("action", ["close", "merge", "approved", "unapproved", "approval"])
def test_other_merge_request_actions_are_ignored(action: str) -> None:
    headers, body = delivery("merge_request_close")
    event = GitLab().parse(headers, edited(body, lambda d: d["object_attributes"].update(action=action)))
    assert event.kind == "ignored" and event.reason == f"merge request action {action} is not built"
    assert event.pr_number == 7


@pytest.mark.parametrize("event_name", ["System Hook", "Pipeline Hook", "Note Hook", "Job Hook"])
def test_other_events_are_ignored(event_name: str) -> None:
    headers, body = delivery("push")  # a system hook for a push has a push body
    headers["x-gitlab-event"] = event_name
    event = GitLab().parse(headers, body)
    assert event.kind == "ignored" and event_name in event.reason


def test_delivery_id_prefers_the_retry_stable_header() -> None:
    headers, body = delivery("push")
    headers["idempotency-key"] = "3e1d2c4b-5a69-4788-9b0a-c1d2e3f4a500"  # GitLab 17.4 and later
    assert GitLab().parse(headers, body).delivery_id == "3e1d2c4b-5a69-4788-9b0a-c1d2e3f4a500"
    headers.pop("idempotency-key")
    assert GitLab().parse(headers, body).delivery_id == HEADERS["push"]["X-Gitlab-Event-UUID"]
    headers.pop("x-gitlab-event-uuid")
    assert GitLab().parse(headers, body).delivery_id == HEADERS["push"]["X-Gitlab-Webhook-UUID"]
    headers.pop("x-gitlab-webhook-uuid")
    assert GitLab().parse(headers, body).delivery_id == "sha256-" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("ref"), "missing field ref"),
        (lambda d: d.update(after=12), "field after is not a str"),
        (lambda d: d.update(checkout_sha="not-a-sha"), "not a commit id"),
        (lambda d: d.update(ref="refs/heads/-evil"), "invalid branch name"),
        (lambda d: d.update(ref="refs/heads/a..b"), "invalid branch name"),
    ],
)
def test_malformed_push_is_a_400(change, message: str) -> None:
    headers, body = delivery("push")
    exc = rejection(GitLab().parse, headers, edited(body, change))
    assert exc.status == 400 and message in exc.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("iid"), "missing field iid"),
        (lambda a: a.update(iid="7"), "field iid is not a int"),
        (lambda a: a.pop("last_commit"), "missing field last_commit.id"),
        (lambda a: a.update(target_branch=""), "invalid branch name"),
        (lambda a: a.pop("action"), "missing field action"),
    ],
)
def test_malformed_merge_request_is_a_400(change, message: str) -> None:
    headers, body = delivery("merge_request_open")
    exc = rejection(GitLab().parse, headers, edited(body, lambda d: change(d["object_attributes"])))
    assert exc.status == 400 and message in exc.message


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_body_that_is_not_a_json_object_is_a_400(body: bytes) -> None:
    headers, _ = delivery("push")
    assert rejection(GitLab().parse, headers, body).status == 400


def test_a_push_to_another_ref_namespace_is_ignored() -> None:
    headers, body = delivery("push")
    event = GitLab().parse(headers, edited(body, lambda d: d.update(ref="refs/merge-requests/7/head")))
    assert event.kind == "ignored" and "refs/merge-requests/7/head" in event.reason


# --- repository paths ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("https://gitlab.com/acme/app.git", "", "acme/app"),
        ("https://gitlab.com/acme/platform/backend/app", "", "acme/platform/backend/app"),
        ("git@gitlab.com:acme/platform/app.git", "", "acme/platform/app"),
        ("ssh://git@gitlab.example.com:2222/acme/platform/app.git", "https://gitlab.example.com", "acme/platform/app"),
        ("https://gitlab.example.com/acme/platform/app/-/tree/main", "https://gitlab.example.com", "acme/platform/app"),
        ("https://example.com/gitlab/acme/platform/app.git", "https://example.com/gitlab", "acme/platform/app"),
        ("https://oauth2:tok@gitlab.com/acme/my.app.git", "", "acme/my.app"),
    ],
)
def test_repo_path(url: str, host: str, expected: str) -> None:
    assert GitLab(host).repo_path(url) == expected


@pytest.mark.parametrize("url", ["https://gitlab.com/app", "https://gitlab.com/acme/../x", "file:///tmp/a/b", "nope"])
def test_repo_path_refuses_what_is_not_a_project_url(url: str) -> None:
    provider_error(GitLab().repo_path, url)


@pytest.mark.parametrize("provider", ["gitlab", "bitbucket", "bitbucket-server"])
def test_a_token_in_a_bad_repository_url_is_never_shown(provider: str) -> None:
    exc = provider_error(
        registry.get_provider(provider, "https://git.example.com").repo_path, "https://oauth2:glpat-SECRET@host/x"
    )
    assert "glpat-SECRET" not in str(exc) and "***@host" in str(exc)


def test_api_base_follows_the_host() -> None:
    assert GitLab().api_url == "https://gitlab.com/api/v4"
    assert GitLab("https://git.example.com/").api_url == "https://git.example.com/api/v4"


# --- API against the fake (``fake`` and ``alice`` come from conftest) -------------------------------------
def test_list_repositories_follows_every_page_and_keeps_maintainer_projects(fake: FakeScm, alice, make_repo) -> None:
    path = make_repo().path
    for index in range(5):
        fake.add_repo(f"acme/team{index}/app", path, admins={"alice"}, default_branch="trunk" if index == 3 else "main")
    fake.add_repo("acme/reader/app", path, readers={"alice"})
    fake.add_repo("bob/public", path, admins={"bob"})
    fake.add_repo("bob/private", path, admins={"bob"}, private=True)
    repos = GitLab(fake.url).list_repositories(alice.token)
    assert sorted(r.full_name for r in repos) == [f"acme/team{i}/app" for i in range(5)]
    assert all(r.permissions == {"admin": True, "push": True, "pull": True} for r in repos)
    by_name = {r.full_name: r for r in repos}
    assert by_name["acme/team3/app"].default_branch == "trunk"
    assert by_name["acme/team0/app"].url == f"{fake.url}/acme/team0/app"
    assert by_name["acme/team0/app"].clone_url == f"{fake.url}/acme/team0/app.git"
    calls = fake.calls("GET", r"^/api/v4/projects$")
    assert len(calls) == 3  # page size 2: five projects on three pages
    assert all(h["authorization"] == f"Bearer {alice.token}" for h in calls)


def test_list_repositories_with_a_bad_token_is_a_401(fake: FakeScm, alice) -> None:
    exc = provider_error(GitLab(fake.url).list_repositories, "not-a-token")
    assert exc.status == 401 and "not-a-token" not in str(exc)


def test_fetch_file_at_a_ref_in_a_subgroup_project(fake: FakeScm, alice, make_repo) -> None:
    repo, first = two_branch_repo(make_repo)
    fake.add_repo("acme/platform/app", repo.path, admins={"alice"})
    gl = GitLab(fake.url)
    assert_fetches_by_ref(gl, alice.token, "acme/platform/app", first)
    assert gl.fetch_file(alice.token, "acme/platform/app", "ci", "main") is None  # a directory
    # The project id and the file path travel URL-encoded, slashes included.
    assert fake.calls("GET", r"/projects/acme%2Fplatform%2Fapp/repository/files/ci%2Fnested%2Fconf\.txt/raw$")


def test_fetch_file_of_a_project_the_user_cannot_see_is_none(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("bob/secret", make_repo("secret\n").path, admins={"bob"}, private=True)
    fake.add_repo("bob/public", make_repo("public\n").path, admins={"bob"})
    gl = GitLab(fake.url)
    assert gl.fetch_file(alice.token, "bob/secret", ".devops.yml", "main") is None
    assert gl.fetch_file(alice.token, "bob/public", ".devops.yml", "main") == "public\n"


def test_head_commit(fake: FakeScm, alice, make_repo) -> None:
    repo = make_repo()
    main = repo.head()
    repo.branch("release/1.x")
    feature = repo.commit({"a.txt": "a\n"})
    fake.add_repo("acme/platform/app", repo.path, readers={"alice"})
    assert_branch_heads(GitLab(fake.url), alice.token, "acme/platform/app", {"main": main, "release/1.x": feature})


def test_webhook_create_exists_delete_idempotent(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/platform/app", make_repo().path, admins={"alice"})
    gl = GitLab(fake.url)
    hook_id = gl.create_webhook(alice.token, "acme/platform/app", HOOK_URL, SECRET)
    assert hook_id.isdigit()
    assert repo.hooks[hook_id] == {
        "id": hook_id,
        "url": HOOK_URL,
        "secret": SECRET,
        "push_events": True,
        "tag_push_events": True,
        "merge_requests_events": True,
        "enable_ssl_verification": True,
    }
    assert_webhook_lifecycle(gl, alice.token, "acme/platform/app", hook_id, repo)
    assert not gl.webhook_exists(alice.token, "acme/platform/app", "../../users")  # never sent


def test_a_reporter_cannot_create_a_webhook(fake: FakeScm, alice, make_repo) -> None:
    repo = fake.add_repo("acme/platform/app", make_repo().path, readers={"alice"})
    assert_no_webhook_without_admin(GitLab(fake.url), alice.token, "acme/platform/app", repo, SECRET)


@pytest.mark.parametrize(
    ("state", "provider_state", "recorded"),
    [("pending", "pending", "pending"), ("success", "success", "success"), ("failure", "failed", "failure"),
     ("error", "failed", "failure")],
)  # fmt: skip
def test_post_status_maps_the_state(fake: FakeScm, alice, make_repo, state, provider_state, recorded) -> None:
    description = "#1 " + "x" * 400
    repo, sha = post_one_status(
        GitLab(fake.url), fake, make_repo, alice, "acme/platform/app", state, description=description
    )
    expected = status_row(sha, recorded, provider_state, description="#1 " + "x" * 252, context="devops/app")
    assert repo.statuses == [expected]


def test_posting_the_same_pending_state_twice_is_not_an_error(fake: FakeScm, alice, make_repo) -> None:
    git_repo = make_repo()
    repo = fake.add_repo("acme/platform/app", git_repo.path, admins={"alice"})
    gl = GitLab(fake.url)
    for description in ("#1 queued", "#1 running"):
        gl.post_status(
            alice.token, "acme/platform/app", git_repo.head(), "pending",
            target_url="https://ci.example.com/executions/1/", description=description, context="devops/app",
        )  # fmt: skip
    gl.post_status(
        alice.token, "acme/platform/app", git_repo.head(), "success",
        target_url="https://ci.example.com/executions/1/", description="#1 passed", context="devops/app",
    )  # fmt: skip
    assert [s["provider_state"] for s in repo.statuses] == ["pending", "success"]


def test_post_status_for_an_unknown_commit_is_an_error(fake: FakeScm, alice, make_repo) -> None:
    fake.add_repo("acme/platform/app", make_repo().path, admins={"alice"})
    assert unknown_commit_error(GitLab(fake.url), alice.token, "acme/platform/app").status == 404


def test_refresh_token_rotates(fake: FakeScm, alice) -> None:
    tokens, issued, before = refresh_once(GitLab(fake.url), fake, "client-1", "client-secret-1")
    old_refresh = issued["refresh_token"]
    assert tokens.access_token == fake.users["alice"].token
    assert tokens.refresh_token and tokens.refresh_token != old_refresh
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=7100) < tokens.expires_at < before + timedelta(seconds=7300)
    # The old refresh token was used up; the client secret must match.
    used = provider_error(GitLab(fake.url).refresh_token, "client-1", "client-secret-1", old_refresh)
    assert used.status == 400 and old_refresh not in str(used)
    bad_client = provider_error(GitLab(fake.url).refresh_token, "client-1", "wrong", tokens.refresh_token)
    assert bad_client.status == 401 and "wrong" not in str(bad_client)
