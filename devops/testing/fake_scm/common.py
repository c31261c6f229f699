"""What every fake provider's handlers do alike, in each provider's own words and shapes.

All five APIs guard a repository the same way: no valid token is a 401, a repository the user may not
see is a 404 (never a 403, which would confirm it exists), and a change that needs admin rights is a
403. They keep webhooks by id, record commit statuses against a commit the repository holds, and
read files and commits out of the repository. The providers differ in URL layout, error body and
wording: a ``Dialect`` holds those, and its ``user_route``/``repo_route`` decorators run the checks
before a handler, which then only builds the provider's answer.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .server import FakeRepo, FakeScm, FakeUser, Reply, Request, error, route

UserHandler = Callable[[FakeScm, Request, FakeUser], Reply]
RepoHandler = Callable[[FakeScm, Request, FakeUser, FakeRepo], Reply]
HookView = Callable[[FakeScm, FakeRepo, dict[str, Any]], dict[str, Any]]
HookId = Callable[[re.Match[str]], str]  # the hook's id from the matched path


@dataclass(frozen=True)
class Dialect:
    """One fake provider: its route table name, how a path names a repository, and its refusals."""

    provider: str
    # The repository named by the matched path, or None.
    find: Callable[[FakeScm, Request], FakeRepo | None]
    unauthorised: str
    not_found: str | Callable[[Request], str]
    forbidden: str
    # The provider's error body for (status, message).
    fail: Callable[[int, str], Reply] = error

    def signed_in(self, fake: FakeScm, req: Request) -> FakeUser | Reply:
        user = fake.user_for(req)
        return user if user is not None else self.fail(401, self.unauthorised)

    def access(
        self, fake: FakeScm, req: Request, *, admin: bool = False, forbidden: str | None = None, write: bool = False
    ) -> tuple[FakeUser, FakeRepo] | Reply:
        """The user and the repository of the path, or the provider's 401, 404 or 403 (``admin``, or
        ``write``: a change that needs push rights)."""
        user = self.signed_in(fake, req)
        if isinstance(user, Reply):
            return user
        repo = self.find(fake, req)
        if repo is None or not can_read(repo, user.login):
            return self.fail(404, self.not_found if isinstance(self.not_found, str) else self.not_found(req))
        if admin and user.login not in repo.admins:
            return self.fail(403, forbidden or self.forbidden)
        if write and not can_write(repo, user.login):
            return self.fail(403, forbidden or self.forbidden)
        return user, repo

    def user_route(self, method: str, pattern: str) -> Callable[[UserHandler], UserHandler]:
        """Register a handler that needs a signed-in user and gets it as its third argument."""

        def deco(func: UserHandler) -> UserHandler:
            @route(self.provider, method, pattern)
            def handler(fake: FakeScm, req: Request) -> Reply:
                user = self.signed_in(fake, req)
                return user if isinstance(user, Reply) else func(fake, req, user)

            return func

        return deco

    def repo_route(
        self, method: str, pattern: str, *, admin: bool = False, forbidden: str | None = None, write: bool = False
    ) -> Callable[[RepoHandler], RepoHandler]:
        """Register a handler for a repository's path; it runs only once ``access`` let the user in."""

        def deco(func: RepoHandler) -> RepoHandler:
            @route(self.provider, method, pattern)
            def handler(fake: FakeScm, req: Request) -> Reply:
                found = self.access(fake, req, admin=admin, forbidden=forbidden, write=write)
                return found if isinstance(found, Reply) else func(fake, req, *found)

            return func

        return deco

    def hook_routes(
        self, pattern: str, view: HookView, missing: str, *, hook_id: HookId = lambda m: m["hook"], listing: str = ""
    ) -> None:
        """GET (the hook as ``view`` shows it) and DELETE (204) of one webhook, for admins only; with a
        ``listing`` pattern also GET of all the repository's hooks."""
        if listing:

            @self.repo_route("GET", listing, admin=True)
            def list_hooks(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
                return Reply(200, [view(fake, repo, hook) for hook in repo.hooks.values()])

        @self.repo_route("GET", pattern, admin=True)
        def get_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
            hook = repo.hooks.get(hook_id(req.match))
            return self.fail(404, missing) if hook is None else Reply(200, view(fake, repo, hook))

        @self.repo_route("DELETE", pattern, admin=True)
        def delete_hook(fake: FakeScm, req: Request, user: FakeUser, repo: FakeRepo) -> Reply:
            if repo.hooks.pop(hook_id(req.match), None) is None:
                return self.fail(404, missing)
            return Reply(204)


# --- repositories ---------------------------------------------------------------------------------------
def can_read(repo: FakeRepo, login: str) -> bool:
    """Any signed-in user reads a public repository; a private one only its admins, writers and readers."""
    return not repo.private or login in repo.admins or login in repo.writers or login in repo.readers


def can_write(repo: FakeRepo, login: str) -> bool:
    """Pushing (committing a file through the API) takes an admin or a writer."""
    return login in repo.admins or login in repo.writers


def member_repos(fake: FakeScm, login: str, *, admin_only: bool = False) -> list[FakeRepo]:
    """The repositories ``login`` administers (or, unless ``admin_only``, writes or reads), by full name."""
    mine = (
        r for r in fake.repos.values()
        if login in r.admins or (not admin_only and (login in r.writers or login in r.readers))
    )  # fmt: skip
    return sorted(mine, key=lambda r: r.full_name)


def resolve(repo: FakeRepo, ref: str) -> str | None:
    """The commit a branch, tag or commit id names, or None (``--end-of-options``: no ref is an option)."""
    out = repo.git("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}")
    return out.strip() if out else None


def read_blob(repo: FakeRepo, spec: str) -> bytes:
    """A file's exact bytes (``FakeRepo.read`` gives text; raw and contents answers carry bytes)."""
    return subprocess.run(["git", "cat-file", "blob", spec], cwd=repo.path, capture_output=True, check=True).stdout


def file_at(repo: FakeRepo, sha: str, path: str) -> bytes | None:
    """The bytes of the file ``path`` at commit ``sha``; None for a missing path or a directory."""
    if (repo.git("cat-file", "-t", f"{sha}:{path}") or "").strip() != "blob":
        return None
    return read_blob(repo, f"{sha}:{path}")


def commit_message(repo: FakeRepo, sha: str) -> str:
    return repo.git("log", "-1", "--format=%B", sha) or ""


def blob_id(repo: FakeRepo, ref: str, path: str) -> str | None:
    """The blob id of the file ``path`` at ``ref`` (GitHub's and Gitea's content ``sha``); None for a
    missing path or a directory."""
    if (repo.git("cat-file", "-t", f"{ref}:{path}") or "").strip() != "blob":
        return None
    return (repo.git("rev-parse", f"{ref}:{path}") or "").strip() or None


def last_commit_of(repo: FakeRepo, ref: str, path: str) -> str | None:
    """The last commit up to ``ref`` that changed ``path`` (GitLab's ``last_commit_id``)."""
    return (repo.git("log", "-1", "--format=%H", ref, "--", path) or "").strip() or None


def valid_file_path(path: str) -> bool:
    """What the providers accept as a file to write: relative, no empty, ``.`` or ``..`` segment."""
    return bool(path) and not path.startswith("/") and all(s not in ("", ".", "..") for s in path.split("/"))


def write_files(repo: FakeRepo, branch: str, files: dict[str, bytes], message: str, user: FakeUser,
                *, parent: str | None = None) -> str:
    """Commit ``files`` (path -> bytes) on ``branch`` (created at ``parent`` when it does not exist) as
    ``user``, in one real commit of the backing repository; returns it.

    The commit is built with a temporary index (``GIT_INDEX_FILE``), ``commit-tree`` and ``update-ref``
    guarded by the old head, so a working tree checked out on the branch is left as it was (it then
    shows the commit's change reverted: commit in it again only after ``git reset --hard``).
    """
    old = repo.head(branch)
    base = old or parent
    if base is None:
        raise ValueError(f"branch {branch} does not exist and no parent was given")
    email = user.email or f"{user.login}@example.com"
    with tempfile.TemporaryDirectory(prefix="fake-scm-index-") as scratch:
        env = {
            **os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": user.name or user.login, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": user.name or user.login, "GIT_COMMITTER_EMAIL": email,
        }  # fmt: skip

        def git(*args: str, stdin: bytes = b"") -> str:
            proc = subprocess.run(["git", *args], cwd=repo.path, env=env, input=stdin, capture_output=True, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
            return proc.stdout.decode().strip()

        git("read-tree", base)
        for path, data in files.items():
            listed = git("ls-tree", base, "--", path).split()
            mode = listed[0] if listed and listed[0] in ("100644", "100755") else "100644"
            blob = git("hash-object", "-w", "--stdin", stdin=data)
            git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
        tree = git("write-tree")
        commit = git("commit-tree", tree, "-p", base, "-F", "-", stdin=message.encode())
        git("update-ref", "-m", "fake API commit", f"refs/heads/{branch}", commit, old or "0" * len(commit))
    return commit


def multipart(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (file name or None, exact bytes)."""
    boundary = re.search(r'boundary="?([^";]+)"?', req.headers.get("content-type", ""))
    if not req.headers.get("content-type", "").startswith("multipart/form-data") or boundary is None:
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in req.body.split(b"--" + boundary[1].encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = next((h for h in head.split(b"\r\n") if h.lower().startswith(b"content-disposition:")), b"")
        name = re.search(rb'\bname="([^"]*)"', disposition)
        filename = re.search(rb'\bfilename="([^"]*)"', disposition)
        if name is not None:
            fields[name[1].decode()] = (filename[1].decode() if filename else None, value.removesuffix(b"\r\n"))
    return fields


# --- webhooks and statuses --------------------------------------------------------------------------------
def add_hook(repo: FakeRepo, hook_id: str, **fields: Any) -> dict[str, Any]:
    """Keep a webhook under ``hook_id`` (also its ``id`` field) and return what was stored."""
    repo.hooks[hook_id] = {"id": hook_id, **fields}
    return repo.hooks[hook_id]


def record_status(
    repo: FakeRepo, sha: str, *, state: str, provider_state: str, target_url: str, description: str, context: str
) -> dict[str, Any]:
    """Append a commit status in the form tests compare: ``state`` normalised to pending, success,
    failure or error, ``provider_state`` as the provider named it."""
    status = {"sha": sha, "state": state, "provider_state": provider_state, "target_url": target_url,
              "description": description, "context": context}  # fmt: skip
    repo.statuses.append(status)
    return status
