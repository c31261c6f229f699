"""Cloning over HTTP with a token: the token reaches the server, and nothing else.

A real smart-HTTP git server (``git http-backend`` run as CGI behind ``http.server``) that insists on
Basic auth; a real execution on the session worker clones from it. While it runs, every process's
argv on this host is sampled; afterwards the step logs are read.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from devops.models import SourceCodeCredential
from devops.states import State

TOKEN = "ghp_Tk9xLq2Zr7WmV4pN8sB3"
USER = "x-access-token"


class GitServer:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authorised)
        self.delay = 0.3  # keep each git process alive long enough to be seen in the process list
        expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                authorised = self.headers.get("Authorization") == expected
                path, _, query = self.path.partition("?")
                server.requests.append((self.command, path, authorised))
                if not authorised:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {
                    "PATH": os.environ["PATH"],
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": USER,
                    "REMOTE_ADDR": "127.0.0.1",
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                time.sleep(server.delay)
                out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
                status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() != "status":
                        self.send_header(key, value.strip())
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    root = tmp_path / "served"
    root.mkdir()
    server = GitServer(root)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


PIPELINE = """
stages:
  - name: Inspect
    steps:
      - name: inspect
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "url=$CICD_GIT_URL"
            cat README.md
            env | sort
            cat .git/config
            git config --list --show-origin || true
"""


class ArgvSampler(threading.Thread):
    """Reads /proc/*/cmdline of every process over and over, looking for a needle."""

    def __init__(self, needles: list[bytes]):
        super().__init__(daemon=True)
        self.needles, self.hits, self.git_seen = needles, [], 0
        self.halt = threading.Event()

    def run(self) -> None:
        me = str(os.getpid())
        while not self.halt.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or entry.name == me:
                    continue
                try:
                    argv = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"git" in argv and b"fetch" in argv:
                    self.git_seen += 1
                if any(n in argv for n in self.needles):
                    self.hits.append(argv)
            time.sleep(0.01)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_clone_over_http_with_a_token_keeps_it_out_of_logs_and_argv(
    worker, git_server, make_repo, make_pipeline, trigger, h
):
    source = make_repo(PIPELINE)
    served = git_server.root / "app.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(served)], check=True)

    user = get_user_model().objects.create_user("dev", password="x" * 12)
    credential = SourceCodeCredential.objects.create(user=user, provider="git", login="dev", access_token=TOKEN)
    pipeline = make_pipeline(f"{git_server.url}/app.git")
    pipeline.credential = credential
    pipeline.save(update_fields=["credential"])

    basic = base64.b64encode(f"{USER}:{TOKEN}".encode())
    sampler = ArgvSampler([TOKEN.encode(), basic])
    sampler.start()
    try:
        ex = h.wait_final(trigger(pipeline, branch="main").pk, timeout=60)
    finally:
        sampler.halt.set()
        sampler.join()

    assert ex.state == State.SUCCESS, h.describe(ex.pk)
    # The server refuses anonymous requests, so the clone (and the trigger's reads) used the token.
    assert any(a for _, _, a in git_server.requests) and all(a for _, _, a in git_server.requests)
    assert any(method == "POST" and path.endswith("git-upload-pack") for method, path, _ in git_server.requests)
    assert sampler.git_seen > 0, "the sampler never saw a git fetch running; it proves nothing"
    assert sampler.hits == [], f"token in a process argv: {sampler.hits[:2]}"

    steps = h.steps_of(ex.pk)
    clone_log = h.stored_log(steps["clone"])
    assert f"checked out {source.head()[:7]}" in clone_log, clone_log
    inspect_log = h.stored_log(steps["inspect"])
    assert f"url={git_server.url}/app.git" in inspect_log
    assert "hello" in inspect_log  # README.md of the checkout
    for log in (clone_log, inspect_log):
        assert TOKEN not in log and basic.decode() not in log
    # Later steps do not get the credential at all (it would show masked if they did).
    assert "********" not in inspect_log, inspect_log
    assert "GIT_CONFIG" not in inspect_log and "extraheader" not in inspect_log.lower()


def test_clone_without_the_token_fails_with_a_clean_message(git_server, make_repo, h, tmp_path):
    """Sanity of the server above: without the header git is refused (so the test above can fail)."""
    served = git_server.root / "app.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(make_repo(PIPELINE)), str(served)], check=True)
    proc = subprocess.run(
        ["git", "ls-remote", f"{git_server.url}/app.git"],
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert git_server.requests and not any(a for _, _, a in git_server.requests)
