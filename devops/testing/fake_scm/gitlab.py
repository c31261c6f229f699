"""Fake GitLab REST API (``/api/v4``) over ``FakeScm`` state.

Serves exactly what ``devops.scm.gitlab.GitLab`` calls: the user's projects (Link-paged, filtered by
``min_access_level``), raw files, branches, project hooks and commit statuses. A project is named by
its numeric id or its URL-encoded full path (``group%2Fsub%2Fname``), like GitLab. Admins of a
``FakeRepo`` are Maintainers (40), readers are Reporters (20). Answers follow GitLab's shapes:
``{"message": "404 Project Not Found"}``, 401 without a valid token, 403 for hooks and statuses by
a Reporter. The OAuth and ``/user`` endpoints live in ``oauth.py``.
"""

from __future__ import annotations

import subprocess
from typing import Any
from urllib.parse import unquote

from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error, route

API = "/api/v4"
PROJECT = r"/projects/(?P<project>[^/]+)"
MAINTAINER, REPORTER, GUEST = 40, 20, 10
STATES = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
    "skipped": "success",
}  # GitLab state -> normalised state


def authorised(fake: FakeScm, req: Request) -> FakeUser | Reply:
    user = fake.user_for(req)
    return user if user is not None else error(401, "401 Unauthorized")


def level(repo: FakeRepo, login: str) -> int:
    """Admins are Maintainers, readers Reporters; anyone else is a Guest of a public project."""
    if login in repo.admins:
        return MAINTAINER
    if login in repo.readers:
        return REPORTER
    return 0 if repo.private else GUEST


def project(fake: FakeScm, req: Request, minimum: int = GUEST) -> tuple[FakeUser, FakeRepo] | Reply:
    """The user and the project of the path, or GitLab's answer: 401, 404 (invisible), 403 (role)."""
    user = authorised(fake, req)
    if isinstance(user, Reply):
        return user
    ident = unquote(req.match["project"])
    repo = next((r for r in fake.repos.values() if str(r.repo_id) == ident or r.full_name == ident), None)
    if repo is None or level(repo, user.login) == 0:
        return error(404, "404 Project Not Found")
    if level(repo, user.login) < minimum:
        return error(403, "403 Forbidden")
    return user, repo


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


def hook_json(repo: FakeRepo, hook: dict[str, Any]) -> dict[str, Any]:
    # GitLab never shows a hook's token back.
    return {
        "id": int(hook["id"]),
        "url": hook["url"],
        "project_id": repo.repo_id,
        **{k: hook[k] for k in ("push_events", "tag_push_events", "merge_requests_events", "enable_ssl_verification")},
    }


def resolve(repo: FakeRepo, ref: str) -> str | None:
    out = repo.git("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}")
    return out.strip() if out else None


@route("gitlab", "GET", f"{API}/projects")
def list_projects(fake: FakeScm, req: Request) -> Reply:
    user = authorised(fake, req)
    if isinstance(user, Reply):
        return user
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


@route("gitlab", "GET", f"{API}{PROJECT}/repository/files/(?P<path>[^/]+)/raw")
def raw_file(fake: FakeScm, req: Request) -> Reply:
    found = project(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    ref = req.query.get("ref")
    if not ref:
        return error(400, "ref is missing")
    sha = resolve(repo, ref)
    path = unquote(req.match["path"])
    if sha is None or (repo.git("cat-file", "-t", f"{sha}:{path}") or "").strip() != "blob":
        return error(404, "404 File Not Found")
    blob = subprocess.run(
        ["git", "cat-file", "blob", f"{sha}:{path}"], cwd=repo.path, capture_output=True, check=True
    ).stdout
    return Reply(200, raw=blob, headers={"Content-Type": "text/plain; charset=utf-8", "X-Gitlab-Commit-Id": sha})


@route("gitlab", "GET", f"{API}{PROJECT}/repository/branches/(?P<branch>[^/]+)")
def branch(fake: FakeScm, req: Request) -> Reply:
    found = project(fake, req)
    if isinstance(found, Reply):
        return found
    _, repo = found
    name = unquote(req.match["branch"])
    sha = repo.head(name)
    if sha is None:
        return error(404, "404 Branch Not Found")
    message = (repo.git("log", "-1", "--format=%B", sha) or "").strip()
    return Reply(
        200,
        {
            "name": name,
            "default": name == repo.default_branch,
            "protected": False,
            "commit": {
                "id": sha,
                "short_id": sha[:8],
                "title": message.splitlines()[0] if message else "",
                "message": message,
            },
        },
    )


@route("gitlab", "POST", f"{API}{PROJECT}/hooks")
def create_hook(fake: FakeScm, req: Request) -> Reply:
    found = project(fake, req, MAINTAINER)
    if isinstance(found, Reply):
        return found
    _, repo = found
    body = req.json()
    if not body.get("url"):
        return error(400, "url is missing")
    hook_id = str(fake.next_id())
    repo.hooks[hook_id] = {
        "id": hook_id,
        "url": body["url"],
        "secret": body.get("token") or "",
        "push_events": bool(body.get("push_events", True)),
        "tag_push_events": bool(body.get("tag_push_events")),
        "merge_requests_events": bool(body.get("merge_requests_events")),
        "enable_ssl_verification": bool(body.get("enable_ssl_verification", True)),
    }
    return Reply(201, hook_json(repo, repo.hooks[hook_id]))


@route("gitlab", "GET", rf"{API}{PROJECT}/hooks/(?P<hook>\d+)")
def get_hook(fake: FakeScm, req: Request) -> Reply:
    found = project(fake, req, MAINTAINER)
    if isinstance(found, Reply):
        return found
    _, repo = found
    hook = repo.hooks.get(req.match["hook"])
    return error(404, "404 Not found") if hook is None else Reply(200, hook_json(repo, hook))


@route("gitlab", "DELETE", rf"{API}{PROJECT}/hooks/(?P<hook>\d+)")
def delete_hook(fake: FakeScm, req: Request) -> Reply:
    found = project(fake, req, MAINTAINER)
    if isinstance(found, Reply):
        return found
    _, repo = found
    if repo.hooks.pop(req.match["hook"], None) is None:
        return error(404, "404 Not found")
    return Reply(204)


@route("gitlab", "POST", f"{API}{PROJECT}/statuses/(?P<sha>[0-9a-fA-F]+)")
def create_status(fake: FakeScm, req: Request) -> Reply:
    # Developer (30) may post statuses; in the fake that is a Maintainer (readers are Reporters).
    found = project(fake, req, MAINTAINER)
    if isinstance(found, Reply):
        return found
    _, repo = found
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
    status = {
        "sha": sha,
        "state": STATES[state],
        "provider_state": state,
        "target_url": body.get("target_url") or "",
        "description": body.get("description") or "",
        "context": context,
    }
    repo.statuses.append(status)
    return Reply(
        201,
        {
            "id": fake.next_id(),
            "sha": sha,
            "status": state,
            "name": context,
            "target_url": status["target_url"],
            "description": status["description"],
        },
    )
