"""Fake GitHub Enterprise Server REST API (``/api/v3``) over ``FakeScm`` state.

Serves exactly what ``devops.scm.github.GitHub`` calls: the user's repositories (Link-paged), file
contents (base64, like GitHub) and their writes (PUT: a real commit in the repository), branches and
commits, repository webhooks, and commit statuses. The OAuth and ``/user`` endpoints live in
``oauth.py``. Answers follow GitHub's shapes and status codes: 401 without a valid token, 404 for a
repository the user cannot see, 403 for hook changes by a non-admin, 422 for an invalid hook or status
body.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .common import (
    Dialect,
    add_hook,
    blob_id,
    commit_message,
    member_repos,
    read_blob,
    record_status,
    resolve,
    valid_file_path,
    write_files,
)
from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error

API = "/api/v3"
REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
STATES = ("error", "failure", "pending", "success")
DESCRIPTION_MAX = 140


def find_repo(fake: FakeScm, req: Request) -> FakeRepo | None:
    return fake.repos.get(req.match["repo"])


GITHUB = Dialect("github", find_repo, unauthorised="Requires authentication", not_found="Not Found",
                 forbidden="Must have admin rights to Repository.")


def base64_lines(data: bytes) -> str:
    """Base64 wrapped at 60 characters, as the contents API sends it."""
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n"


def repo_json(fake: FakeScm, repo: FakeRepo, login: str) -> dict[str, Any]:
    owner, _, name = repo.full_name.partition("/")
    admin = login in repo.admins
    return {
        "id": repo.repo_id,
        "name": name,
        "full_name": repo.full_name,
        "owner": {"login": owner},
        "private": repo.private,
        "html_url": f"{fake.url}/{repo.full_name}",
        "clone_url": f"{fake.url}/{repo.full_name}.git",
        "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
        "default_branch": repo.default_branch,
        "permissions": {"admin": admin, "maintain": admin, "push": admin, "triage": admin, "pull": True},
    }


def hook_json(fake: FakeScm, repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    # GitHub never shows a hook's secret back.
    config = {**hook["config"], **({"secret": "********"} if hook["config"].get("secret") else {})}
    url = f"{fake.url}{API}/repos/{repo.full_name}/hooks/{hook['id']}"
    return {"type": "Repository", "id": int(hook["id"]), "name": "web", "active": hook["active"],
            "events": hook["events"], "config": config, "url": url, "ping_url": f"{url}/pings"}


@GITHUB.user_route("GET", f"{API}/user/repos")
def list_repos(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    items, number, last = fake.page(member_repos(fake, user.login), req)
    return Reply(200, [repo_json(fake, r, user.login) for r in items], fake.link_header(req, number, last))


@GITHUB.repo_route("GET", f"{API}{REPO}")
def get_repo(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return Reply(200, repo_json(fake, repo, user.login))


def contents_answer(repo: FakeRepo, raw_path: str, ref: str | None, *, wrap: bool) -> Reply:
    """A file as base64 (wrapped at 60 like GitHub when ``wrap``), a directory as a list, or 404."""
    path = unquote(raw_path).strip("/")
    sha = resolve(repo, ref or repo.default_branch)
    kind = repo.git("cat-file", "-t", f"{sha}:{path}") if sha else None
    if kind is None:
        return error(404, "Not Found")
    if kind.strip() == "tree":
        listing = (repo.git("ls-tree", "--name-only", f"{sha}:{path}") or "").split()
        return Reply(200, [{"type": "file", "name": n, "path": f"{path}/{n}"} for n in listing])
    blob = read_blob(repo, f"{sha}:{path}")
    content = base64_lines(blob) if wrap else base64.b64encode(blob).decode()
    return Reply(200, {"type": "file", "encoding": "base64", "size": len(blob), "name": path.rsplit("/", 1)[-1],
                       "path": path, "sha": blob_id(repo, sha, path), "content": content})


@GITHUB.repo_route("GET", f"{API}{REPO}/contents/(?P<path>.+)")
def contents(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return contents_answer(repo, req.match["path"], req.query.get("ref"), wrap=True)


@dataclass(frozen=True)
class FileWrite:
    """A checked contents-API write (GitHub's and Gitea's bodies): what to commit where."""

    path: str
    branch: str
    data: bytes
    message: str
    head: str  # the branch's head before the commit
    current: str | None  # the blob the file holds there, None for a new file


def file_write(repo: FakeRepo, req: Request, branch_missing: str) -> FileWrite | Reply:
    """The body of a contents write checked the way both APIs do (base64 content, a message, an
    existing branch), or their 422 / 404 answer."""
    body = req.json()
    path = unquote(req.match["path"])
    branch = body.get("branch") or repo.default_branch
    try:
        data = base64.b64decode(body.get("content") or "", validate=True)
    except (binascii.Error, ValueError):
        return error(422, "content is not valid Base64")
    if not isinstance(body.get("message"), str) or not body["message"] or not valid_file_path(path):
        return error(422, "Invalid request.\n\nmessage and a file path are required.")
    head = repo.head(branch)
    if head is None:
        return error(404, branch_missing.format(branch=branch))
    return FileWrite(path, branch, data, body["message"], head, blob_id(repo, head, path))


def file_answer(fake: FakeScm, repo: FakeRepo, write: FileWrite, commit_sha: str, api: str = API) -> dict[str, Any]:
    """The contents API's answer to a write: the new file and the commit (GitHub's shape, Gitea's too)."""
    name = write.path.rsplit("/", 1)[-1]
    commit_url = f"{fake.url}{api}/repos/{repo.full_name}/git/commits/{commit_sha}"
    return {
        "content": {"type": "file", "name": name, "path": write.path, "size": len(write.data),
                    "sha": blob_id(repo, commit_sha, write.path)},
        "commit": {"sha": commit_sha, "url": commit_url, "message": write.message,
                   "parents": [{"sha": write.head}]},
    }  # fmt: skip


@GITHUB.repo_route("PUT", f"{API}{REPO}/contents/(?P<path>.+)", write=True,
                   forbidden="Must have push access to repository")
def put_contents(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """Create or update a file in a real commit: an update must name the blob it replaces (``sha``)."""
    write = file_write(repo, req, "Branch {branch} not found")
    if isinstance(write, Reply):
        return write
    given = req.json().get("sha")
    if write.current is not None and not given:
        return error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if given and given != write.current:
        return error(409, f"{write.path} does not match {given}")
    sha = write_files(repo, write.branch, {write.path: write.data}, write.message, user)
    return Reply(200 if write.current else 201, file_answer(fake, repo, write, sha))


@GITHUB.repo_route("GET", f"{API}{REPO}/branches/(?P<branch>.+)")
def branch(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "Branch not found")
    commit_url = f"{fake.url}{API}/repos/{repo.full_name}/commits/{sha}"
    return Reply(200, {"name": name, "commit": {"sha": sha, "url": commit_url}, "protected": False})


@GITHUB.repo_route("GET", f"{API}{REPO}/commits/(?P<ref>.+)")
def commit(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    sha = resolve(repo, unquote(req.match["ref"]))
    if sha is None:
        return error(422, f"No commit found for SHA: {unquote(req.match['ref'])}")
    return Reply(200, {"sha": sha, "commit": {"message": commit_message(repo, sha).strip()}})


def add_config_hook(fake: FakeScm, repo: FakeRepo, body: dict[str, Any], *, active: bool, **extra: Any) -> dict:
    """Keep a hook whose settings come in ``config`` (GitHub's shape, which Gitea copied)."""
    config = body.get("config") or {}
    return add_hook(
        repo, str(fake.next_id()), **extra, url=config["url"], secret=config.get("secret", ""),
        content_type=config.get("content_type", "form"), events=list(body.get("events") or ["push"]),
        active=bool(body.get("active", active)), config=dict(config),
    )  # fmt: skip


@GITHUB.repo_route("POST", f"{API}{REPO}/hooks", admin=True)
def create_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    if body.get("name", "web") != "web" or not (body.get("config") or {}).get("url"):
        return error(422, "Validation Failed: config.url is required")
    return Reply(201, hook_json(fake, repo, add_config_hook(fake, repo, body, active=True)))


GITHUB.hook_routes(rf"{API}{REPO}/hooks/(?P<hook>\d+)", hook_json, "Not Found", listing=f"{API}{REPO}/hooks")


@GITHUB.repo_route("POST", f"{API}{REPO}/statuses/(?P<sha>[0-9a-fA-F]+)", admin=True,
                   forbidden="Resource not accessible by integration")
def create_status(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return error(422, f"No commit found for SHA: {sha}")
    state = body.get("state")
    description = body.get("description") or ""
    if state not in STATES or len(description) > DESCRIPTION_MAX:
        return error(422, "Validation Failed")
    status = record_status(repo, sha, state=state, provider_state=state, target_url=body.get("target_url") or "",
                           description=description, context=body.get("context") or "default")
    return Reply(201, {"id": fake.next_id(), **{k: v for k, v in status.items() if k != "provider_state"}})
