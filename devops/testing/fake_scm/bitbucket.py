"""Fake Bitbucket Cloud REST API 2.0 (``/2.0``) over ``FakeScm`` state.

Serves exactly what ``devops.scm.bitbucket.BitbucketCloud`` calls: the user's repositories (paged with
``page``/``pagelen`` and a ``next`` URL in the body), ``/src`` raw files and commits (a multipart POST
to ``/src``: a real commit), branch refs, repository webhooks (ids are ``{uuid}``) and build statuses.
Errors have Bitbucket's shape ``{"type": "error", "error": {"message": ...}}``: 401 without a valid
token, 404 for a repository the user cannot see, 403 for hooks and statuses by a non-admin, 400 for an
invalid body. The OAuth and ``/user`` endpoints live in ``oauth.py``.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote, urlencode

from .common import (
    Dialect,
    add_hook,
    commit_message,
    file_at,
    member_repos,
    multipart,
    record_status,
    resolve,
    valid_file_path,
    write_files,
)
from .server import FakeRepo, FakeScm, FakeUser, Reply, Request

API = "/2.0"
REPO = r"/repositories/(?P<ws>[^/]+)/(?P<slug>[^/]+)"
STATES = {"INPROGRESS": "pending", "SUCCESSFUL": "success", "FAILED": "failure", "STOPPED": "error"}
KEY_MAX = 40


def bb_error(status: int, message: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"message": message}})


def find_repo(fake: FakeScm, req: Request) -> FakeRepo | None:
    return fake.repos.get(f"{unquote(req.match['ws'])}/{unquote(req.match['slug'])}")


BITBUCKET = Dialect("bitbucket", find_repo, unauthorised="Access token expired or invalid.",
                    not_found="Repository not found", forbidden="You must be an administrator of this repository.",
                    fail=bb_error)  # fmt: skip


def repo_json(fake: FakeScm, repo: FakeRepo) -> dict[str, Any]:
    workspace, _, slug = repo.full_name.partition("/")
    return {
        "type": "repository",
        "uuid": f"{{{uuid.UUID(int=repo.repo_id)}}}",
        "full_name": repo.full_name,
        "name": slug,
        "slug": slug,
        "is_private": True,
        "scm": "git",
        "workspace": {"type": "workspace", "slug": workspace, "name": workspace},
        "mainbranch": {"type": "branch", "name": repo.default_branch},
        "links": {
            "self": {"href": f"{fake.url}{API}/repositories/{repo.full_name}"},
            "html": {"href": f"{fake.url}/{repo.full_name}"},
            "clone": [
                {"name": "https", "href": f"{fake.url.replace('://', '://someone@')}/{repo.full_name}.git"},
                {"name": "ssh", "href": f"git@127.0.0.1:{repo.full_name}.git"},
            ],
        },
    }


def hook_json(fake: FakeScm, repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    # The secret is never shown back, only whether one is set.
    return {
        "type": "webhook_subscription",
        "uuid": hook["id"],
        "url": hook["url"],
        "description": hook["description"],
        "subject_type": "repository",
        "subject": {"type": "repository", "full_name": repo.full_name},
        "active": hook["active"],
        "events": hook["events"],
        "secret_set": bool(hook["secret"]),
    }


@BITBUCKET.user_route("GET", f"{API}/repositories")
def list_repos(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    role = req.query.get("role", "member")
    if role not in ("member", "contributor", "admin", "owner"):
        return bb_error(400, f"Invalid role {role}")
    mine = member_repos(fake, user.login, admin_only=role == "admin")
    items, number, last = fake.page(mine, req)
    size = min(int(req.query.get("pagelen") or 10), fake.page_size)
    body: dict[str, Any] = {
        "pagelen": size,
        "size": len(mine),
        "page": number,
        "values": [repo_json(fake, r) for r in items],
    }
    if number < last:
        body["next"] = f"{fake.url}{req.path}?{urlencode({**req.query, 'page': str(number + 1)})}"
    return Reply(200, body)


@BITBUCKET.repo_route("GET", f"{API}{REPO}/src/(?P<ref>[^/]+)/(?P<path>.+)")
def src(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    sha = resolve(repo, unquote(req.match["ref"]))
    path = unquote(req.match["path"]).strip("/")
    if sha is None:
        return bb_error(404, "Commit not found")
    blob = file_at(repo, sha, path)
    if blob is None:
        return bb_error(404, f"No such file or directory: {path}")
    return Reply(200, raw=blob, headers={"Content-Type": "text/plain"})


META_FIELDS = frozenset({"message", "author", "parents", "files", "branch"})


@BITBUCKET.repo_route("POST", f"{API}{REPO}/src", write=True,
                      forbidden="You do not have write access to this repository.")
def create_commit(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """A commit of the uploaded files (multipart fields with a file name, named by their path) in the
    backing repository; 201 with the commit in ``Location``.

    ``branch`` defaults to the main branch; a new branch starts at ``parents`` or the main branch's
    head. When the branch exists and ``parents`` is given, it must be the branch's head, else 409.
    """
    fields = multipart(req)
    files = {name.strip("/"): data for name, (filename, data) in fields.items()
             if filename is not None or name not in META_FIELDS}  # fmt: skip
    meta = {name: data.decode() for name, (filename, data) in fields.items() if filename is None}
    if not files or not all(valid_file_path(path) for path in files):
        return bb_error(400, "No files to commit, or an invalid path")
    branch = meta.get("branch") or repo.default_branch
    parents = meta.get("parents", "").split(",")[0].strip() or None
    head = repo.head(branch)
    if head is not None and parents is not None and parents != head:
        return bb_error(409, f"The branch {branch} has moved on from the parent {parents}")
    start = head or (resolve(repo, parents) if parents else repo.head(repo.default_branch))
    if start is None:
        return bb_error(404, f"Commit not found: {parents}")
    sha = write_files(repo, branch, files, meta.get("message") or "Edited online with Bitbucket", user, parent=start)
    location = f"{fake.url}{API}/repositories/{repo.full_name}/commit/{sha}"
    return Reply(201, headers={"Location": location})


@BITBUCKET.repo_route("GET", f"{API}{REPO}/refs/branches/(?P<branch>.+)")
def branch(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return bb_error(404, f"Branch not found: {name}")
    target = {"type": "commit", "hash": sha, "message": commit_message(repo, sha)}
    return Reply(200, {"type": "branch", "name": name, "target": target})


@BITBUCKET.repo_route("POST", f"{API}{REPO}/hooks", admin=True)
def create_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    events = body.get("events")
    if not body.get("url") or not isinstance(events, list) or not events:
        return bb_error(400, "url and events are required")
    hook = add_hook(
        repo,
        f"{{{uuid.uuid4()}}}",
        url=body["url"],
        description=body.get("description") or "",
        active=bool(body.get("active", True)),
        events=list(events),
        secret=body.get("secret") or "",
    )
    return Reply(201, hook_json(fake, repo, hook))


# Hook ids are ``{uuid}``: the braces travel URL-encoded.
BITBUCKET.hook_routes(
    f"{API}{REPO}/hooks/(?P<hook>[^/]+)", hook_json, "Webhook not found", hook_id=lambda match: unquote(match["hook"])
)


@BITBUCKET.repo_route("POST", f"{API}{REPO}/commit/(?P<sha>[0-9a-fA-F]+)/statuses/build", admin=True)
def create_status(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return bb_error(404, f"Commit not found: {sha}")
    state, key = body.get("state"), body.get("key")
    if state not in STATES or not key or len(key) > KEY_MAX or not body.get("url"):
        return bb_error(400, "state, key (at most 40 characters) and url are required")
    status = record_status(
        repo,
        sha,
        state=STATES[state],
        provider_state=state,
        target_url=body["url"],
        description=body.get("description") or "",
        context=key,
    )
    return Reply(201, {"type": "build", "key": key, "state": state, "name": body.get("name") or key,
                       "url": body["url"], "description": status["description"]})  # fmt: skip
