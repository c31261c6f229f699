"""Fake Bitbucket Server / Data Center REST API (``/rest/api/1.0``, ``/rest/build-status/1.0``).

Serves exactly what ``devops.scm.bitbucket_server.BitbucketServer`` calls: repositories by permission,
raw files, file edits (a multipart PUT to ``browse``: a real commit), branches (``filterText``),
repository webhooks and build statuses. Collections page with ``start``/``limit`` and answer
``isLastPage``/``nextPageStart``. ``FakeRepo.full_name`` is ``PROJECT/slug``; project keys match case-
insensitively, as on Bitbucket. Errors have Bitbucket's shape ``{"errors": [{"message": ...}]}``: 401
without a valid token, 404 for a repository the user cannot see, 403 for webhooks by a non-admin, 400
for an invalid body.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from .common import (
    Dialect,
    add_hook,
    blob_id,
    file_at,
    member_repos,
    multipart,
    record_status,
    resolve,
    valid_file_path,
    write_files,
)
from .server import FakeRepo, FakeScm, FakeUser, Reply, Request

API = "/rest/api/1.0"
REPO = r"/projects/(?P<key>[^/]+)/repos/(?P<slug>[^/]+)"
STATES = {"INPROGRESS": "pending", "SUCCESSFUL": "success", "FAILED": "failure", "CANCELLED": "error"}
EVENTS = {
    "repo:refs_changed",
    "repo:modified",
    "repo:forked",
    "pr:opened",
    "pr:from_ref_updated",
    "pr:modified",
    "pr:merged",
    "pr:declined",
    "pr:deleted",
}
PERMISSIONS = ("REPO_READ", "REPO_WRITE", "REPO_ADMIN")
FORBIDDEN = "You are not permitted to access this resource"


def bbs_error(status: int, message: str) -> Reply:
    return Reply(status, {"errors": [{"context": None, "message": message, "exceptionName": None}]})


def find_repo(fake: FakeScm, req: Request) -> FakeRepo | None:
    """Project keys match case-insensitively, slugs too, as on Bitbucket."""
    key, slug = unquote(req.match["key"]), unquote(req.match["slug"])
    for repo in fake.repos.values():
        repo_key, _, repo_slug = repo.full_name.partition("/")
        if repo_key.upper() == key.upper() and repo_slug.lower() == slug.lower():
            return repo
    return None


def missing_repo(req: Request) -> str:
    return f"Repository {unquote(req.match['key'])}/{unquote(req.match['slug'])} does not exist."


BITBUCKET_SERVER = Dialect(
    "bitbucket-server", find_repo, unauthorised="Authentication failed. Please check your credentials and try again.",
    not_found=missing_repo, forbidden=FORBIDDEN, fail=bbs_error,
)  # fmt: skip


def paged(fake: FakeScm, req: Request, values: list[Any]) -> Reply:
    start = max(0, int(req.query.get("start") or 0))
    limit = min(int(req.query.get("limit") or 25), fake.page_size)
    chunk = values[start : start + limit]
    last = start + limit >= len(values)
    body: dict[str, Any] = {"size": len(chunk), "limit": limit, "isLastPage": last, "values": chunk, "start": start}
    if not last:
        body["nextPageStart"] = start + limit
    return Reply(200, body)


def repo_json(fake: FakeScm, repo: FakeRepo) -> dict[str, Any]:
    key, _, slug = repo.full_name.partition("/")
    return {
        "slug": slug,
        "id": repo.repo_id,
        "name": slug,
        "scmId": "git",
        "state": "AVAILABLE",
        "statusMessage": "Available",
        "forkable": True,
        "public": False,
        "project": {"key": key, "id": repo.repo_id, "name": key.title(), "public": False, "type": "NORMAL"},
        "links": {
            "clone": [
                {"href": f"{fake.url}/scm/{key.lower()}/{slug}.git", "name": "http"},
                {"href": f"ssh://git@127.0.0.1:7999/{key.lower()}/{slug}.git", "name": "ssh"},
            ],
            "self": [{"href": f"{fake.url}/projects/{key}/repos/{slug}/browse"}],
        },
    }


def hook_json(fake: FakeScm, repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    # The secret is never shown back.
    return {
        "id": int(hook["id"]),
        "name": hook["name"],
        "createdDate": hook["created"],
        "updatedDate": hook["created"],
        "events": hook["events"],
        "configuration": {},
        "url": hook["url"],
        "active": hook["active"],
    }


@BITBUCKET_SERVER.user_route("GET", f"{API}/repos")
def list_repos(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    permission = req.query.get("permission", "REPO_READ")
    if permission not in PERMISSIONS:
        return bbs_error(400, f"Invalid permission {permission}")
    mine = member_repos(fake, user.login, admin_only=permission == "REPO_ADMIN")
    return paged(fake, req, [repo_json(fake, r) for r in mine])


@BITBUCKET_SERVER.repo_route("GET", f"{API}{REPO}/raw/(?P<path>.+)")
def raw(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    ref = req.query.get("at") or repo.default_branch
    sha = resolve(repo, ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else ref)
    path = unquote(req.match["path"]).strip("/")
    if sha is None:
        return bbs_error(404, f"Commit '{ref}' does not exist in repository '{repo.full_name}'.")
    blob = file_at(repo, sha, path)
    if blob is None:
        return bbs_error(404, f'The path "{path}" does not exist at revision "{sha}"')
    return Reply(200, raw=blob, headers={"Content-Type": "text/plain;charset=UTF-8"})


def commit_json(repo: FakeRepo, sha: str, user: FakeUser, message: str, parent: str) -> dict[str, Any]:
    person = {"name": user.login, "emailAddress": user.email, "displayName": user.name, "slug": user.login,
              "type": "NORMAL", "active": True}  # fmt: skip
    stamp = int(time.time() * 1000)
    return {"id": sha, "displayId": sha[:11], "author": person, "authorTimestamp": stamp, "committer": person,
            "committerTimestamp": stamp, "message": message, "parents": [{"id": parent, "displayId": parent[:11]}]}


@BITBUCKET_SERVER.repo_route("PUT", f"{API}{REPO}/browse/(?P<path>.+)", write=True)
def edit_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """Create or update a file in a real commit from multipart fields ``content``, ``message``,
    ``branch`` and ``sourceCommitId`` (the commit the edit started from; required to update).

    A form post without ``X-Atlassian-Token: no-check`` fails the XSRF check (403). An update whose
    file changed on the branch since ``sourceCommitId``, or a create over an existing file, is a 409.
    """
    if req.headers.get("x-atlassian-token", "").lower() != "no-check":
        return Reply(403, raw=b"XSRF check failed", headers={"Content-Type": "text/plain"})
    fields = multipart(req)
    path = unquote(req.match["path"]).strip("/")
    text = {name: data.decode() for name, (filename, data) in fields.items() if name != "content"}
    if "content" not in fields or not text.get("branch") or not valid_file_path(path):
        return bbs_error(400, "content and branch are required, with a valid path")
    branch = text["branch"].removeprefix("refs/heads/")
    head = repo.head(branch)
    if head is None:
        return bbs_error(404, f"Branch '{branch}' does not exist in repository '{repo.full_name}'.")
    current = blob_id(repo, head, path)
    source = text.get("sourceCommitId") or None
    if source is None and current is not None:
        return bbs_error(409, f"The file '{path}' already exists on branch '{branch}'; an edit needs sourceCommitId.")
    if source is not None:
        if resolve(repo, source) is None:
            return bbs_error(404, f"Commit '{source}' does not exist in repository '{repo.full_name}'.")
        if blob_id(repo, source, path) != current:
            return bbs_error(409, f"The file '{path}' has been changed on '{branch}' since commit '{source}'.")
    message = text.get("message") or f"Edit {path}"
    sha = write_files(repo, branch, {path: fields["content"][1]}, message, user)
    return Reply(200, commit_json(repo, sha, user, message, head))


@BITBUCKET_SERVER.repo_route("GET", f"{API}{REPO}/branches")
def branches(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    needle = req.query.get("filterText", "").lower()
    values = []
    for name in sorted(repo.branches()):
        if needle in name.lower():
            sha = repo.head(name)
            values.append({"id": f"refs/heads/{name}", "displayId": name, "type": "BRANCH", "latestCommit": sha,
                           "latestChangeset": sha, "isDefault": name == repo.default_branch})  # fmt: skip
    return paged(fake, req, values)


@BITBUCKET_SERVER.repo_route("POST", f"{API}{REPO}/webhooks", admin=True)
def create_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    events = body.get("events")
    if not body.get("name") or not body.get("url") or not isinstance(events, list) or not events:
        return bbs_error(400, "name, url and events are required")
    if set(events) - EVENTS:
        return bbs_error(400, f"Unknown events: {sorted(set(events) - EVENTS)}")
    configuration = body.get("configuration") or {}
    hook = add_hook(
        repo,
        str(fake.next_id()),
        name=body["name"],
        url=body["url"],
        events=list(events),
        active=bool(body.get("active", True)),
        secret=configuration.get("secret") or "",
        created=int(time.time() * 1000),
    )
    return Reply(201, hook_json(fake, repo, hook))


BITBUCKET_SERVER.hook_routes(rf"{API}{REPO}/webhooks/(?P<hook>\d+)", hook_json, "Webhook not found")


@BITBUCKET_SERVER.user_route("POST", "/rest/build-status/1.0/commits/(?P<sha>[0-9a-fA-F]+)")
def create_status(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    """Build statuses are keyed by commit alone; the fake records one on each visible repository
    holding the commit, and needs write access to at least one of them."""
    body = req.json()
    sha = req.match["sha"].lower()
    state, key = body.get("state"), body.get("key")
    if state not in STATES or not key or len(key) > 255 or not body.get("url"):
        return bbs_error(400, "state, key and url are required")
    holders = [r for r in member_repos(fake, user.login) if resolve(r, sha) == sha]
    writable = [r for r in holders if user.login in r.admins]
    if holders and not writable:
        return bbs_error(403, FORBIDDEN)
    for repo in writable:
        record_status(
            repo,
            sha,
            state=STATES[state],
            provider_state=state,
            target_url=body["url"],
            description=body.get("description") or "",
            context=key,
        )
    return Reply(204)
