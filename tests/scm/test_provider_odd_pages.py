"""A provider that answers a repository page of an unexpected shape gives a ProviderError (the API's
``refresh/`` turns it into a 502 naming the provider), never a TypeError (a 500).

The odd answers come from a small HTTP server on a real socket that answers every GET with one body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scm_support import provider_error

from devops.scm.bitbucket import BitbucketCloud
from devops.scm.bitbucket_server import BitbucketServer


@pytest.fixture
def answering() -> Iterator[Callable[[object], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(body: object) -> str:
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("values", [5, True, "repos", {"full_name": "a/b"}])
def test_bitbucket_cloud_page_whose_values_are_not_a_list(answering, values) -> None:
    exc = provider_error(BitbucketCloud(answering({"values": values})).list_repositories, "token")
    assert "values are not a list" in str(exc)


@pytest.mark.parametrize("values", [5, True, "repos", {"slug": "b"}])
def test_bitbucket_server_page_whose_values_are_not_a_list(answering, values) -> None:
    exc = provider_error(BitbucketServer(answering({"values": values, "isLastPage": True})).list_repositories, "t")
    assert "values are not a list" in str(exc)


def test_odd_clone_links_leave_the_repository_without_a_clone_url(answering) -> None:
    cloud = {"values": [{"full_name": "team/app", "links": {"clone": 7}, "mainbranch": {"name": "main"}}]}
    (repo,) = BitbucketCloud(answering(cloud)).list_repositories("token")
    assert repo.full_name == "team/app"
    server = {
        "values": [{"slug": "app", "project": {"key": "TEAM"}, "links": {"clone": 7, "self": "x"}}],
        "isLastPage": True,
    }
    (repo,) = BitbucketServer(answering(server)).list_repositories("token")
    assert repo.full_name.lower().endswith("app")
