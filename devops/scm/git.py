"""Plain git over the command line: resolve refs, read the pipeline file at a commit, clone auth.

Credentials travel as ``http.extraHeader`` through ``GIT_CONFIG_*`` environment variables: never in
argv (visible in the process list) and never in a URL (which git may print).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from devops.pipeline_config import PIPELINE_FILE_NAMES

SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# git check-ref-format rules, plus no leading dash (it would read as an option).
_BAD_REF = re.compile(r"(^-|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{|^/|/$|//|\.lock$|\.$)")


class GitError(Exception):
    """A git operation failed; the message is safe to show (credentials never included)."""


def check_ref_name(name: str, what: str = "branch") -> str:
    if not name or len(name) > 255 or _BAD_REF.search(name):
        raise GitError(f"invalid {what} name {name!r}")
    return name


def auth_env(token: str | None, username: str = "x-access-token") -> dict[str, str]:
    """Git's environment to send ``token``: Basic with ``username``, or Bearer when it is empty
    (Bitbucket Data Center's project and repository tokens are accepted only as Bearer)."""
    if not token:
        return {}
    basic = base64.b64encode(f"{username}:{token}".encode()).decode()
    header = f"Basic {basic}" if username else f"Bearer {token}"
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: {header}",
    }


def secret_forms(token: str | None, username: str = "x-access-token") -> list[str]:
    """The token and the encoded forms git could print, for masking."""
    if not token:
        return []
    if not username:
        return [token]
    return [token, base64.b64encode(f"{username}:{token}".encode()).decode()]


def _git(
    args: list[str],
    *,
    cwd: Path | None = None,
    token: str | None = None,
    username: str = "x-access-token",
    timeout: float = 120,
) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", **auth_env(token, username)}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        message = (fatal or lines or [f"exit {proc.returncode}"])[0]
        for secret in secret_forms(token, username):
            message = message.replace(secret, "********")
        raise GitError(f"git {args[0]} failed: {message}")
    return proc.stdout


def normalise_url(repo: str) -> str:
    """A local path becomes absolute; URLs stay as they are."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", repo) or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return repo
    return str(Path(repo).expanduser().resolve())


def default_branch(url: str, token: str | None = None, username: str = "x-access-token") -> str:
    out = _git(["ls-remote", "--symref", "--", url, "HEAD"], token=token, username=username)
    match = re.search(r"^ref: refs/heads/(\S+)\s+HEAD", out, re.M)
    if not match:
        raise GitError(f"cannot tell the default branch of {url}")
    return match.group(1)


def resolve(url: str, ref: str, token: str | None = None, username: str = "x-access-token") -> str:
    """The commit a full ref (refs/heads/x, refs/tags/y) points at; annotated tags are peeled."""
    out = _git(["ls-remote", "--", url, ref, f"{ref}^{{}}"], token=token, username=username)
    shas = dict(reversed(line.split("\t", 1)) for line in out.splitlines() if "\t" in line)
    sha = shas.get(f"{ref}^{{}}") or shas.get(ref)
    if not sha:
        raise GitError(f"{ref} not found in {url}")
    return sha


@contextmanager
def _mirror(url: str) -> Iterator[Path]:
    """A bare mirror of ``url``, held exclusively: concurrent triggers of one repository (a burst of
    pushes) would otherwise collide on ``git init`` and on git's lock files (``shallow.lock``)."""
    root = Path(settings.MIRROR_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    path = root / hashlib.sha256(url.encode()).hexdigest()[:24]
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not (path / "HEAD").exists():
            _git(["init", "-q", "--bare", str(path)])
        yield path
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    message: str


def fetch_commit(
    url: str, sha: str, token: str | None = None, username: str = "x-access-token"
) -> tuple[Path, CommitInfo]:
    """Fetch one commit into a bare mirror; reused between executions so reads stay cheap."""
    if not SHA_RE.match(sha):
        raise GitError(f"invalid commit {sha!r}: expected a full hexadecimal SHA")
    with _mirror(url) as mirror:
        try:
            _git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd=mirror)
        except GitError:
            _git(["fetch", "-q", "--depth=1", "--", url, sha], cwd=mirror, token=token, username=username)
        out = _git(["log", "-1", "--format=%an <%ae>%x00%B", sha], cwd=mirror)
    author, _, message = out.partition("\x00")
    return mirror, CommitInfo(sha=sha, author=author.strip(), message=message.strip())


def read_pipeline_file(mirror: Path, sha: str) -> tuple[str, str] | None:
    """The first pipeline file present at the commit, in the spec's order: (name, text)."""
    listing = set(_git(["ls-tree", "--name-only", sha], cwd=mirror).splitlines())
    for name in PIPELINE_FILE_NAMES:
        if name in listing:
            return name, _git(["show", f"{sha}:{name}"], cwd=mirror)
    return None


def ls_remote(
    url: str, token: str | None = None, username: str = "x-access-token", timeout: float = 60
) -> dict[str, str]:
    """Every branch and tag of ``url``: {"refs/heads/main": sha, "refs/tags/v1": sha}. Annotated tags
    are peeled to their commit, so a tag's value is what a build of it would check out."""
    out = _git(["ls-remote", "--heads", "--tags", "--", url], token=token, username=username, timeout=timeout)
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if not SHA_RE.match(sha) or not ref.startswith(("refs/heads/", "refs/tags/")):
            continue
        if ref.endswith("^{}"):
            peeled[ref[:-3]] = sha
        else:
            refs[ref] = sha
    return {ref: peeled.get(ref, sha) for ref, sha in refs.items()}
