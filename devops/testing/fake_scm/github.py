"""Fake GitHub Enterprise Server REST API (``/api/v3``) over ``FakeScm`` state.

Serves exactly what ``devops.scm.github.GitHub`` calls: the user's repositories (Link-paged), file
contents (base64, like GitHub), branches and commits, repository webhooks, and commit statuses. The
OAuth and ``/user`` endpoints live in ``oauth.py``. Answers follow GitHub's shapes and status codes:
401 without a valid token, 404 for a repository the user cannot see, 403 for hook changes by a
non-admin, 422 for an invalid hook or status body.
"""

from __future__ import annotations

import base64
import subprocess
from typing import Any
from urllib.parse import unquote

from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error, route

API = "/api/v3"
REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
STATES = ("error", "failure", "pending", "success")
DESCRIPTION_MAX = 140


def authorised(fake: FakeScm, req: Request) -> FakeUser | Reply:
    user = fake.user_for(req)
    return user if user is not None else error(401, "Requires authentication")


def visible_repo(fake: FakeScm, req: Request) -> tuple[FakeUser, FakeRepo] | Reply:
    """The user and the repository of the path, or the answer GitHub gives (401 or 404).

    Any signed-in user reads a public repository; a private one only its admins and readers.
    """
    user = authorised(fake, req)
    if isinstance(user, Reply):
        return user
    repo = fake.repos.get(req.match["repo"])
    if repo is None or (repo.private and user.login not in repo.admins and user.login not in repo.readers):
        return error(404, "Not Found")
    return user, repo


def base64_lines(data: bytes) -> str:
    """Base64 wrapped at 60 characters, as the contents API sends it."""
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n"


def resolve(repo: FakeRepo, ref: str) -> str | None:
    out = repo.git("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}")
    return out.strip() if out else None


def read_blob(repo: FakeRepo, spec: str) -> bytes:
    """A file's exact bytes (``FakeRepo.read`` gives text; contents answers carry bytes)."""
    return subprocess.run(["git", "cat-file", "blob", spec], cwd=repo.path, capture_output=True, check=True).stdout


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


@route("github", "GET", f"{API}/user/repos")
def list_repos(fake: FakeScm, req: Request) -> Reply:
    user = authorised(fake, req)
    if isinstance(user, Reply):
        return user
    mine = [r for r in fake.repos.values() if user.login in r.admins or user.login in r.readers]
    items, number, last = fake.page(sorted(mine, key=lambda r: r.full_name), req)
    return Reply(200, [repo_json(fake, r, user.login) for r in items], fake.link_header(req, number, last))


@route("github", "GET", f"{API}{REPO}")
def get_repo(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    user, repo = found
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
                       "path": path, "content": content})


@route("github", "GET", f"{API}{REPO}/contents/(?P<path>.+)")
def contents(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    return contents_answer(found[1], req.match["path"], req.query.get("ref"), wrap=True)


@route("github", "GET", f"{API}{REPO}/branches/(?P<branch>.+)")
def branch(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "Branch not found")
    commit_url = f"{fake.url}{API}/repos/{repo.full_name}/commits/{sha}"
    return Reply(200, {"name": name, "commit": {"sha": sha, "url": commit_url}, "protected": False})


@route("github", "GET", f"{API}{REPO}/commits/(?P<ref>.+)")
def commit(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    sha = resolve(repo, unquote(req.match["ref"]))
    if sha is None:
        return error(422, f"No commit found for SHA: {unquote(req.match['ref'])}")
    return Reply(200, {"sha": sha, "commit": {"message": (repo.git("log", "-1", "--format=%B", sha) or "").strip()}})


def admin_repo(fake: FakeScm, req: Request) -> tuple[FakeUser, FakeRepo] | Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    user, repo = found
    if user.login not in repo.admins:
        return error(403, "Must have admin rights to Repository.")
    return found


@route("github", "POST", f"{API}{REPO}/hooks")
def create_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    body = req.json()
    config = body.get("config") or {}
    if body.get("name", "web") != "web" or not config.get("url"):
        return error(422, "Validation Failed: config.url is required")
    events = list(body.get("events") or ["push"])
    hook_id = str(fake.next_id())
    repo.hooks[hook_id] = {
        "id": hook_id, "url": config["url"], "secret": config.get("secret", ""),
        "content_type": config.get("content_type", "form"), "events": events,
        "active": bool(body.get("active", True)), "config": dict(config),
    }
    return Reply(201, hook_json(fake, repo, repo.hooks[hook_id]))


@route("github", "GET", f"{API}{REPO}/hooks")
def list_hooks(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    return Reply(200, [hook_json(fake, repo, h) for h in repo.hooks.values()])


@route("github", "GET", rf"{API}{REPO}/hooks/(?P<hook>\d+)")
def get_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    hook = repo.hooks.get(req.match["hook"])
    return error(404, "Not Found") if hook is None else Reply(200, hook_json(fake, repo, hook))


@route("github", "DELETE", rf"{API}{REPO}/hooks/(?P<hook>\d+)")
def delete_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    if repo.hooks.pop(req.match["hook"], None) is None:
        return error(404, "Not Found")
    return Reply(204)


@route("github", "POST", f"{API}{REPO}/statuses/(?P<sha>[0-9a-fA-F]+)")
def create_status(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    user, repo = found
    if user.login not in repo.admins:
        return error(403, "Resource not accessible by integration")
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return error(422, f"No commit found for SHA: {sha}")
    state = body.get("state")
    description = body.get("description") or ""
    if state not in STATES or len(description) > DESCRIPTION_MAX:
        return error(422, "Validation Failed")
    status = {"sha": sha, "state": state, "provider_state": state, "target_url": body.get("target_url") or "",
              "description": description, "context": body.get("context") or "default"}
    repo.statuses.append(status)
    return Reply(201, {"id": fake.next_id(), **{k: v for k, v in status.items() if k != "provider_state"}})
