"""Fake GitLab REST API (``/api/v4``) over ``FakeScm`` state.

Serves exactly what ``devops.scm.gitlab.GitLab`` calls: the user's projects (Link-paged, filtered by
``min_access_level``), raw files, file metadata and writes (POST/PUT: real commits, ``last_commit_id``
checked), branches, project hooks and commit statuses. A project is named by its numeric id or its
URL-encoded full path (``group%2Fsub%2Fname``), like GitLab. Admins of a ``FakeRepo`` are Maintainers
(40), writers Developers (30), readers are Reporters (20). Answers follow GitLab's shapes: ``{"message":
"404 Project Not Found"}``, 401 without a valid token, 403 for hooks and statuses by a Reporter. The
OAuth and ``/user`` endpoints live in ``oauth.py``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

from .common import (
    Dialect,
    add_hook,
    blob_id,
    commit_message,
    file_at,
    last_commit_of,
    record_status,
    resolve,
    valid_file_path,
    write_files,
)
from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error

API = "/api/v4"
PROJECT = r"/projects/(?P<project>[^/]+)"
MAINTAINER, DEVELOPER, REPORTER, GUEST = 40, 30, 20, 10
STATES = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
    "skipped": "success",
}  # GitLab state -> normalised state


def level(repo: FakeRepo, login: str) -> int:
    """Admins are Maintainers, writers Developers, readers Reporters; anyone else is a Guest of a public
    project."""
    if login in repo.admins:
        return MAINTAINER
    if login in repo.writers:
        return DEVELOPER
    if login in repo.readers:
        return REPORTER
    return 0 if repo.private else GUEST


def find_project(fake: FakeScm, req: Request) -> FakeRepo | None:
    """A project by its numeric id or its (URL-encoded) full path."""
    ident = unquote(req.match["project"])
    return next((r for r in fake.repos.values() if str(r.repo_id) == ident or r.full_name == ident), None)


# A project the user cannot see (level 0) is a 404; one that needs Maintainer (``admin``) a 403.
GITLAB = Dialect(
    "gitlab",
    find_project,
    unauthorised="401 Unauthorized",
    not_found="404 Project Not Found",
    forbidden="403 Forbidden",
)


def project_json(fake: FakeScm, repo: FakeRepo, login: str) -> dict[str, Any]:
    namespace, _, path = repo.full_name.rpartition("/")
    return {
        "id": repo.repo_id,
        "name": path,
        "path": path,
        "path_with_namespace": repo.full_name,
        "namespace": {"full_path": namespace, "kind": "group"},
        "default_branch": repo.default_branch,
        "visibility": "private",
        "web_url": f"{fake.url}/{repo.full_name}",
        "http_url_to_repo": f"{fake.url}/{repo.full_name}.git",
        "ssh_url_to_repo": f"git@127.0.0.1:{repo.full_name}.git",
        "permissions": {
            "project_access": {"access_level": level(repo, login), "notification_level": 3},
            "group_access": None,
        },
    }


def hook_json(fake: FakeScm, repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    # GitLab never shows a hook's token back.
    return {
        "id": int(hook["id"]),
        "url": hook["url"],
        "project_id": repo.repo_id,
        **{k: hook[k] for k in ("push_events", "tag_push_events", "merge_requests_events", "enable_ssl_verification")},
    }


@GITLAB.user_route("GET", f"{API}/projects")
def list_projects(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    minimum = int(req.query.get("min_access_level") or REPORTER)
    # membership=true: projects the user is a member of (a public project's guests are not).
    mine = [r for r in fake.repos.values() if level(r, user.login) >= max(minimum, REPORTER)]
    items, number, last = fake.page(sorted(mine, key=lambda r: r.repo_id), req)
    headers = {
        "X-Page": str(number),
        "X-Total-Pages": str(last),
        "X-Total": str(len(mine)),
        **({"X-Next-Page": str(number + 1)} if number < last else {}),
        **fake.link_header(req, number, last),
    }
    return Reply(200, [project_json(fake, r, user.login) for r in items], headers)


@GITLAB.repo_route("GET", f"{API}{PROJECT}/repository/files/(?P<path>[^/]+)/raw")
def raw_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    ref = req.query.get("ref")
    if not ref:
        return error(400, "ref is missing")
    sha = resolve(repo, ref)
    blob = None if sha is None else file_at(repo, sha, unquote(req.match["path"]))
    if sha is None or blob is None:
        return error(404, "404 File Not Found")
    return Reply(200, raw=blob, headers={"Content-Type": "text/plain; charset=utf-8", "X-Gitlab-Commit-Id": sha})


FILE = f"{API}{PROJECT}/repository/files/(?P<path>[^/]+)"


@GITLAB.repo_route("GET", FILE)
def get_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """A file's metadata and base64 content at ``ref``, with ``blob_id`` and ``last_commit_id``."""
    ref = req.query.get("ref")
    if not ref:
        return error(400, "ref is missing")
    path = unquote(req.match["path"])
    sha = resolve(repo, ref)
    blob = None if sha is None else file_at(repo, sha, path)
    if sha is None or blob is None:
        return error(404, "404 File Not Found")
    return Reply(200, {
        "file_name": path.rsplit("/", 1)[-1], "file_path": path, "size": len(blob), "encoding": "base64",
        "content": base64.b64encode(blob).decode(), "ref": ref, "blob_id": blob_id(repo, sha, path),
        "commit_id": sha, "last_commit_id": last_commit_of(repo, sha, path),
    })  # fmt: skip


def write_gitlab_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo, *, create: bool) -> Reply:
    """POST creates, PUT updates, each in a real commit; a Developer (writer) or Maintainer may push.

    Refusals are GitLab's 400s: a missing parameter, a branch that does not exist, a file that exists
    (create) or does not (update), and ``last_commit_id`` that is no longer the file's last commit.
    """
    body = req.json()
    path = unquote(req.match["path"])
    for name in ("branch", "commit_message", "content"):
        if not isinstance(body.get(name), str) or (name != "content" and not body[name]):
            return error(400, f"{name} is missing")
    if not valid_file_path(path):
        return error(400, "file_path should be a valid file path")
    try:
        data = base64.b64decode(body["content"], validate=True) if body.get("encoding") == "base64" else (
            body["content"].encode())
    except (binascii.Error, ValueError):
        return error(400, "content is not valid base64")
    head = repo.head(body["branch"])
    if head is None:
        return error(400, "You can only create or edit files when you are on a branch")
    exists = blob_id(repo, head, path) is not None
    if create and exists:
        return error(400, "A file with this name already exists")
    if not create and not exists:
        return error(400, "A file with this name doesn't exist")
    given = body.get("last_commit_id")
    if not create and given and given != last_commit_of(repo, head, path):
        return error(400, "You are attempting to update a file that has changed since you started editing it.")
    write_files(repo, body["branch"], {path: data}, body["commit_message"], user)
    return Reply(201 if create else 200, {"file_path": path, "branch": body["branch"]})


@GITLAB.repo_route("POST", FILE, write=True)
def create_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return write_gitlab_file(fake, req, user, repo, create=True)


@GITLAB.repo_route("PUT", FILE, write=True)
def update_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return write_gitlab_file(fake, req, user, repo, create=False)


@GITLAB.repo_route("GET", f"{API}{PROJECT}/repository/branches/(?P<branch>[^/]+)")
def branch(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "404 Branch Not Found")
    message = commit_message(repo, sha).strip()
    title = message.splitlines()[0] if message else ""
    commit = {"id": sha, "short_id": sha[:8], "title": title, "message": message}
    return Reply(200, {"name": name, "default": name == repo.default_branch, "protected": False, "commit": commit})


@GITLAB.repo_route("POST", f"{API}{PROJECT}/hooks", admin=True)
def create_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    if not body.get("url"):
        return error(400, "url is missing")
    hook = add_hook(
        repo,
        str(fake.next_id()),
        url=body["url"],
        secret=body.get("token") or "",
        push_events=bool(body.get("push_events", True)),
        tag_push_events=bool(body.get("tag_push_events")),
        merge_requests_events=bool(body.get("merge_requests_events")),
        enable_ssl_verification=bool(body.get("enable_ssl_verification", True)),
    )
    return Reply(201, hook_json(fake, repo, hook))


GITLAB.hook_routes(rf"{API}{PROJECT}/hooks/(?P<hook>\d+)", hook_json, "404 Not found")


# Developer (30) may post statuses; in the fake that is a Maintainer (readers are Reporters).
@GITLAB.repo_route("POST", f"{API}{PROJECT}/statuses/(?P<sha>[0-9a-fA-F]+)", admin=True)
def create_status(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return error(404, "404 Commit Not Found")
    state = body.get("state")
    if state not in STATES:
        return error(400, "state does not have a valid value")
    context = body.get("name") or body.get("context") or "default"
    previous = next((s for s in reversed(repo.statuses) if s["sha"] == sha and s["context"] == context), None)
    if previous is not None and previous["provider_state"] == state and state in ("pending", "running"):
        # GitLab refuses a transition to the state the status already has.
        event = "enqueue" if state == "pending" else "run"
        return error(
            400,
            f'Cannot transition status via :{event} from :{state} (Reason(s): Status cannot transition via "{event}")',
        )
    status = record_status(repo, sha, state=STATES[state], provider_state=state,
                           target_url=body.get("target_url") or "", description=body.get("description") or "",
                           context=context)  # fmt: skip
    return Reply(201, {"id": fake.next_id(), "sha": sha, "status": state, "name": context,
                       "target_url": status["target_url"], "description": status["description"]})  # fmt: skip
