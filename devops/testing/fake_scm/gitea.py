"""Fake Gitea REST API (``/api/v1``) over ``FakeScm`` state.

Serves what ``devops.scm.gitea.Gitea`` calls, in Gitea's shapes: ``/user/repos`` paged with
``page``/``limit`` plus ``Link`` and ``X-Total-Count``, contents (unwrapped base64), branches whose
commit is ``commit.id``, hooks that need ``type`` and never show the secret, and commit statuses
(which Gitea answers under ``status``, with ``warning`` as a fifth state). OAuth is in ``oauth.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .github import admin_repo, authorised, contents_answer, resolve, visible_repo
from .server import FakeRepo, FakeScm, Reply, Request, error, route

API = "/api/v1"
REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
STATES = ("pending", "success", "error", "failure", "warning")
HOOK_TYPES = ("gitea", "gogs", "slack", "discord", "dingtalk", "telegram", "msteams", "feishu", "matrix",
              "wechatwork", "packagist")


def repo_json(fake: FakeScm, repo: FakeRepo, login: str) -> dict[str, Any]:
    owner, _, name = repo.full_name.partition("/")
    admin = login in repo.admins
    return {
        "id": repo.repo_id,
        "owner": {"login": owner, "username": owner},
        "name": name,
        "full_name": repo.full_name,
        "private": repo.private,
        "html_url": f"{fake.url}/{repo.full_name}",
        "clone_url": f"{fake.url}/{repo.full_name}.git",
        "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
        "default_branch": repo.default_branch,
        "permissions": {"admin": admin, "push": admin, "pull": True},
    }


def hook_json(hook: dict[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in hook["config"].items() if k != "secret"}
    return {"id": int(hook["id"]), "type": hook["type"], "config": config, "events": hook["events"],
            "active": hook["active"], "branch_filter": "*"}


@route("gitea", "GET", f"{API}/user/repos")
def list_repos(fake: FakeScm, req: Request) -> Reply:
    user = authorised(fake, req)
    if isinstance(user, Reply):
        return user
    mine = sorted((r for r in fake.repos.values() if user.login in r.admins or user.login in r.readers),
                  key=lambda r: r.full_name)
    items, number, last = fake.page(mine, req)
    headers = {**fake.link_header(req, number, last), "X-Total-Count": str(len(mine))}
    return Reply(200, [repo_json(fake, r, user.login) for r in items], headers)


@route("gitea", "GET", f"{API}{REPO}")
def get_repo(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    return Reply(200, repo_json(fake, found[1], found[0].login))


@route("gitea", "GET", f"{API}{REPO}/contents/(?P<path>.+)")
def contents(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    return contents_answer(found[1], req.match["path"], req.query.get("ref"), wrap=False)


@route("gitea", "GET", f"{API}{REPO}/branches/(?P<branch>.+)")
def branch(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    repo = found[1]
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "branch does not exist")
    message = (repo.git("log", "-1", "--format=%B", sha) or "").strip()
    return Reply(200, {"name": name, "commit": {"id": sha, "message": message}, "protected": False})


@route("gitea", "POST", f"{API}{REPO}/hooks")
def create_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    repo = found[1]
    body = req.json()
    config = body.get("config") or {}
    if body.get("type") not in HOOK_TYPES or not config.get("url") or not config.get("content_type"):
        return error(422, "[Type]: Required; config url and content_type are required")
    hook_id = str(fake.next_id())
    repo.hooks[hook_id] = {
        "id": hook_id, "type": body["type"], "url": config["url"], "secret": config.get("secret", ""),
        "content_type": config["content_type"], "events": list(body.get("events") or ["push"]),
        "active": bool(body.get("active", False)), "config": dict(config),
    }
    return Reply(201, hook_json(repo.hooks[hook_id]))


@route("gitea", "GET", f"{API}{REPO}/hooks")
def list_hooks(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    return Reply(200, [hook_json(h) for h in found[1].hooks.values()])


@route("gitea", "GET", rf"{API}{REPO}/hooks/(?P<hook>\d+)")
def get_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    hook = found[1].hooks.get(req.match["hook"])
    return error(404, "hook does not exist") if hook is None else Reply(200, hook_json(hook))


@route("gitea", "DELETE", rf"{API}{REPO}/hooks/(?P<hook>\d+)")
def delete_hook(fake: FakeScm, req: Request) -> Reply:
    found = admin_repo(fake, req)
    if isinstance(found, Reply):
        return found
    if found[1].hooks.pop(req.match["hook"], None) is None:
        return error(404, "hook does not exist")
    return Reply(204)


@route("gitea", "POST", f"{API}{REPO}/statuses/(?P<sha>[0-9a-fA-F]+)")
def create_status(fake: FakeScm, req: Request) -> Reply:
    found = visible_repo(fake, req)
    if isinstance(found, Reply):
        return found
    user, repo = found
    if user.login not in repo.admins:
        return error(403, "user should have write permission to the repository")
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return error(404, f"commit does not exist [id: {sha}]")
    state = body.get("state")
    if state not in STATES:
        return error(422, "[State]: invalid commit status state")
    status = {"sha": sha, "state": state, "provider_state": state, "target_url": body.get("target_url") or "",
              "description": body.get("description") or "", "context": body.get("context") or "default"}
    repo.statuses.append(status)
    return Reply(201, {"id": fake.next_id(), "status": state, "target_url": status["target_url"],
                       "description": status["description"], "context": status["context"]})
