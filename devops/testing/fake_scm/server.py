"""The fake provider's server, its state, and the route table the per-provider modules fill.

``FakeScm("github").start()`` serves one provider's API (and its OAuth endpoints) on 127.0.0.1.
Repositories are *real* local git repositories (``FakeRepo.path``): files, branches and head commits
are read from them with git, so what the fake answers is what a clone of the same repository holds.
Webhooks, commit statuses, OAuth codes and tokens are kept in memory; ``requests`` records every call.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class FakeUser:
    login: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    email: str = ""
    user_id: int = 0
    name: str = ""


@dataclass
class FakeRepo:
    full_name: str  # owner/name; GitLab may nest groups: group/sub/name
    path: Path  # a local git repository (working tree or bare)
    default_branch: str = "main"
    admins: set[str] = field(default_factory=set)  # logins that may add webhooks
    readers: set[str] = field(default_factory=set)
    writers: set[str] = field(default_factory=set)  # logins that may push (commit files); admins may too
    repo_id: int = 0
    private: bool = False  # a private repository needs a user's token to clone over HTTP
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # remote id -> hook config
    statuses: list[dict[str, Any]] = field(default_factory=list)  # commit statuses in arrival order

    def git(self, *args: str) -> str | None:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def head(self, branch: str) -> str | None:
        out = self.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}")
        return out.strip() if out else None

    def read(self, path: str, ref: str) -> str | None:
        return self.git("show", f"{ref}:{path}")

    def branches(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/") or ""
        return out.split()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased keys
    body: bytes
    match: re.Match[str]

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def bearer(self) -> str:
        """The token from ``Authorization: Bearer x``, ``token x``, or Basic ``user:x``."""
        value = self.headers.get("authorization", "")
        scheme, _, rest = value.partition(" ")
        if scheme.lower() in ("bearer", "token"):
            return rest.strip()
        if scheme.lower() == "basic":
            import base64

            return base64.b64decode(rest).decode().partition(":")[2]
        return self.headers.get("private-token", "")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


Handler = Callable[["FakeScm", Request], Reply]
# provider -> [(method, compiled path regex, handler)]
ROUTES: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {}


_SMART_HTTP = re.compile(r"^/(?P<repo>.+?)\.git/(?P<rest>info/refs|git-upload-pack|git-receive-pack)$")


def route(provider: str, method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on a path matching ``pattern`` (anchored, no query)."""

    def deco(func: Handler) -> Handler:
        ROUTES.setdefault(provider, []).append((method, re.compile(f"^{pattern}$"), func))
        return func

    return deco


def error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


class FakeScm:
    """One provider's fake API. ``users``/``repos`` are the state; ``requests`` records each call."""

    def __init__(self, provider: str, *, page_size: int = 2) -> None:
        _load_routes()
        if provider not in ROUTES:
            raise KeyError(f"no fake routes for {provider!r}")
        self.provider = provider
        # Small pages so every client has to follow pagination to see everything.
        self.page_size = page_size
        self.users: dict[str, FakeUser] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.oauth_codes: dict[str, str] = {}  # code -> login
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> login
        self.oauth_clients: dict[str, str] = {}  # client id -> secret
        self.token_lifetime: int | None = 7200  # seconds in token answers; None: tokens do not expire
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.clone_users: list[str] = []  # Basic-auth user names that cloned a private repository
        self.lock = threading.RLock()
        self._next_id = 1000
        self._httpd: ThreadingHTTPServer | None = None

    # --- state helpers -------------------------------------------------------------------------
    def next_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def add_user(self, login: str, **kwargs: Any) -> FakeUser:
        user = FakeUser(login=login, user_id=self.next_id(), email=f"{login}@example.com", name=login.title(), **kwargs)
        self.users[login] = user
        return user

    def add_repo(self, full_name: str, path: Path, *, admins: set[str] = frozenset(), **kwargs: Any) -> FakeRepo:
        repo = FakeRepo(full_name=full_name, path=Path(path), admins=set(admins), repo_id=self.next_id(), **kwargs)
        self.repos[full_name] = repo
        return repo

    def user_for(self, req: Request) -> FakeUser | None:
        token = req.bearer()
        return next((u for u in self.users.values() if token and secrets.compare_digest(u.token, token)), None)

    def issue_tokens(self, login: str) -> dict[str, Any]:
        user = self.users[login]
        user.token = secrets.token_hex(16)
        refresh = secrets.token_hex(16)
        self.refresh_tokens[refresh] = login
        answer: dict[str, Any] = {"access_token": user.token, "token_type": "bearer", "refresh_token": refresh,
                                  "scope": "repo"}
        if self.token_lifetime is not None:
            answer["expires_in"] = self.token_lifetime
        return answer

    def page(self, items: list[Any], req: Request) -> tuple[list[Any], int, int]:
        """(this page's items, page number, last page number) for ``?page=N`` paging."""
        size = int(req.query.get("per_page") or req.query.get("limit") or req.query.get("pagelen") or 0)
        size = min(size or self.page_size, self.page_size)
        number = max(1, int(req.query.get("page", "1") or 1))
        last = max(1, -(-len(items) // size))
        return items[(number - 1) * size : number * size], number, last

    def link_header(self, req: Request, number: int, last: int) -> dict[str, str]:
        if number >= last:
            return {}
        query = {**req.query, "page": str(number + 1)}
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return {"Link": f'<{self.url}{req.path}?{qs}>; rel="next"'}

    # --- server --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeScm:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = fake.dispatch(self.command, self.path, dict(self.headers.items()), body)
                raw = reply.raw if reply.raw is not None else (
                    b"" if reply.body is None else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name=f"fake-{self.provider}").start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        lower = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            self.requests.append((method, parts.path, lower))
        smart = _SMART_HTTP.match(parts.path)
        if smart:
            return self.serve_git(smart.group("repo"), smart.group("rest"), parts.query, method, lower, body)
        for route_method, pattern, handler in ROUTES[self.provider]:
            match = pattern.match(parts.path)
            if match and route_method == method:
                req = Request(method, parts.path, dict(parse_qsl(parts.query)), lower, body, match)
                try:
                    with self.lock:
                        return handler(self, req)
                except Exception as exc:  # noqa: BLE001 - a fake must answer, and say what broke
                    return error(500, f"fake {self.provider} handler failed: {exc!r}")
        return error(404, f"Not Found ({method} {parts.path})")

    def repo_for_clone_path(self, path: str) -> FakeRepo | None:
        """``owner/name`` (``scm/proj/slug`` for Bitbucket Server) as in the repository's clone URL."""
        wanted = path.lower().removeprefix("scm/")
        return next((r for r in self.repos.values() if r.full_name.lower() == wanted), None)

    def serve_git(self, repo_path: str, rest: str, query: str, method: str, headers: dict[str, str],
                  body: bytes) -> Reply:
        """Git's smart HTTP protocol through the real ``git http-backend`` (read-only: fetch and clone).

        A private repository asks for Basic auth whose password is a user's token, or that token as
        Bearer; the user name used (``(bearer)`` for Bearer) is recorded in ``clone_users`` so tests
        can check how each provider's token is sent.
        """
        repo = self.repo_for_clone_path(repo_path)
        if repo is None or rest == "git-receive-pack" or query.startswith("service=git-receive-pack"):
            return error(404, "Repository not found")
        if repo.private:
            auth = headers.get("authorization", "")
            import base64

            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer":
                user, password = "(bearer)", value.strip()
            else:
                basic = base64.b64decode(value).decode() if scheme.lower() == "basic" else ""
                user, _, password = basic.partition(":")
            if not any(password and secrets.compare_digest(u.token, password) for u in self.users.values()):
                return Reply(401, raw=b"Authentication required",
                             headers={"WWW-Authenticate": 'Basic realm="fake"', "Content-Type": "text/plain"})
            self.clone_users.append(user)
        env = {
            "GIT_PROJECT_ROOT": str(repo.path.parent), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.path.name}/{rest}", "REQUEST_METHOD": method, "QUERY_STRING": query,
            "CONTENT_TYPE": headers.get("content-type", ""), "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": headers.get("git-protocol", ""), "PATH": "/usr/bin:/bin",
        }  # fmt: skip
        if headers.get("content-encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
            env["CONTENT_LENGTH"] = str(len(body))
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status, reply_headers = 200, {}
        for line in head.decode(errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                reply_headers[key.strip()] = value.strip()
        return Reply(status, raw=payload, headers=reply_headers)

    def calls(self, method: str, path_regex: str) -> list[dict[str, str]]:
        """Headers of the recorded requests matching ``method`` and the path regex."""
        pattern = re.compile(path_regex)
        return [h for m, p, h in self.requests if m == method and pattern.search(p)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()


def _load_routes() -> None:
    from . import bitbucket, bitbucket_server, gitea, github, gitlab, oauth  # noqa: F401
