"""Fake Gitea REST API (``/api/v1``) over ``FakeScm`` state.

Serves what ``devops.scm.gitea.Gitea`` calls, in Gitea's shapes: ``/user/repos`` paged with
``page``/``limit`` plus ``Link`` and ``X-Total-Count``, contents (unwrapped base64), branches whose
commit is ``commit.id``, file writes (POST creates, PUT updates with ``sha``: real commits), hooks that
need ``type`` and never show the secret, and commit statuses (which Gitea answers under ``status``, with
``warning`` as a fifth state). OAuth is in ``oauth.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .common import Dialect, commit_message, member_repos, record_status, resolve, write_files
from .github import GITHUB, add_config_hook, contents_answer, file_answer, file_write, find_repo
from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error

API = "/api/v1"
REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
STATES = ("pending", "success", "error", "failure", "warning")
HOOK_TYPES = ("gitea", "gogs", "slack", "discord", "dingtalk", "telegram", "msteams", "feishu", "matrix",
              "wechatwork", "packagist")
# Gitea's repository paths and refusals are GitHub's.
GITEA = Dialect("gitea", find_repo, unauthorised=GITHUB.unauthorised, not_found=GITHUB.not_found,
                forbidden=GITHUB.forbidden)


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


def hook_json(fake: FakeScm, repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in hook["config"].items() if k != "secret"}
    return {"id": int(hook["id"]), "type": hook["type"], "config": config, "events": hook["events"],
            "active": hook["active"], "branch_filter": "*"}


@GITEA.user_route("GET", f"{API}/user/repos")
def list_repos(fake: FakeScm, req: Request, user: FakeUser) -> Reply:
    mine = member_repos(fake, user.login)
    items, number, last = fake.page(mine, req)
    headers = {**fake.link_header(req, number, last), "X-Total-Count": str(len(mine))}
    return Reply(200, [repo_json(fake, r, user.login) for r in items], headers)


@GITEA.repo_route("GET", f"{API}{REPO}")
def get_repo(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return Reply(200, repo_json(fake, repo, user.login))


@GITEA.repo_route("GET", f"{API}{REPO}/contents/(?P<path>.+)")
def contents(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    return contents_answer(repo, req.match["path"], req.query.get("ref"), wrap=False)


WRITE_FORBIDDEN = "user should have write permission to the repository"
BRANCH_MISSING = "branch does not exist [name: {branch}]"


@GITEA.repo_route("POST", f"{API}{REPO}/contents/(?P<path>.+)", write=True, forbidden=WRITE_FORBIDDEN)
def create_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """Create a file in a real commit; one that exists already is a 422 (updates go through PUT)."""
    write = file_write(repo, req, BRANCH_MISSING)
    if isinstance(write, Reply):
        return write
    if write.current is not None:
        return error(422, f"repository file already exists [path: {write.path}]")
    sha = write_files(repo, write.branch, {write.path: write.data}, write.message, user)
    return Reply(201, file_answer(fake, repo, write, sha, API))


@GITEA.repo_route("PUT", f"{API}{REPO}/contents/(?P<path>.+)", write=True, forbidden=WRITE_FORBIDDEN)
def update_file(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    """Update a file in a real commit: ``sha`` is required and must be the blob the branch holds."""
    write = file_write(repo, req, BRANCH_MISSING)
    if isinstance(write, Reply):
        return write
    given = req.json().get("sha")
    if not given:
        return error(422, "[SHA]: Required")
    if write.current is None:
        return error(404, f"file does not exist [path: {write.path}]")
    if given != write.current:
        return error(422, f"sha does not match [given: {given}, expected: {write.current}]")
    sha = write_files(repo, write.branch, {write.path: write.data}, write.message, user)
    return Reply(200, file_answer(fake, repo, write, sha, API))


@GITEA.repo_route("GET", f"{API}{REPO}/branches/(?P<branch>.+)")
def branch(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "branch does not exist")
    message = commit_message(repo, sha).strip()
    return Reply(200, {"name": name, "commit": {"id": sha, "message": message}, "protected": False})


@GITEA.repo_route("POST", f"{API}{REPO}/hooks", admin=True)
def create_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    config = body.get("config") or {}
    if body.get("type") not in HOOK_TYPES or not config.get("url") or not config.get("content_type"):
        return error(422, "[Type]: Required; config url and content_type are required")
    return Reply(201, hook_json(fake, repo, add_config_hook(fake, repo, body, active=False, type=body["type"])))


GITEA.hook_routes(rf"{API}{REPO}/hooks/(?P<hook>\d+)", hook_json, "hook does not exist", listing=f"{API}{REPO}/hooks")


@GITEA.repo_route("POST", f"{API}{REPO}/statuses/(?P<sha>[0-9a-fA-F]+)", admin=True,
                  forbidden="user should have write permission to the repository")
def create_status(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
    body = req.json()
    sha = req.match["sha"].lower()
    if resolve(repo, sha) != sha:
        return error(404, f"commit does not exist [id: {sha}]")
    state = body.get("state")
    if state not in STATES:
        return error(422, "[State]: invalid commit status state")
    status = record_status(repo, sha, state=state, provider_state=state, target_url=body.get("target_url") or "",
                           description=body.get("description") or "", context=body.get("context") or "default")
    return Reply(201, {"id": fake.next_id(), "status": state, "target_url": status["target_url"],
                       "description": status["description"], "context": status["context"]})
