"""The HTTP face: a threading stdlib server on 127.0.0.1, with call counters and fault injection."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import discovery
from .errors import REASONS, ApiError
from .handlers import JSON, Reply, Stream, handle, verb_of
from .resources import IMAGE_PULL_JOB, ResourceType
from .routes import Discovery, route
from .store import Store


def kubeconfig_for(server_url: str, token: str = "cluster-token") -> str:
    """A minimal kubeconfig (YAML) pointing at ``server_url`` with a bearer token."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "ci",
        "clusters": [{"name": "fake", "cluster": {"server": server_url}}],
        "users": [{"name": "ci", "user": {"token": token}}],
        "contexts": [{"name": "ci", "context": {"cluster": "fake", "user": "ci"}}],
    })  # fmt: skip (JSON is YAML)


@dataclass
class Fault:
    verb: str  # "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection" or "*"
    resource: str  # "pods", "pods/status", "imagepulljobs" (or qualified) or "*"
    code: int
    message: str
    remaining: int

    def matches(self, verb: str, target) -> bool:
        names = {"*", target.counter_resource, target.rt.plural}
        if target.subresource:
            names.add(f"{target.rt.plural}/{target.subresource}")
        return self.verb in ("*", verb) and self.resource in names


class FakeKubernetes:
    """A fake Kubernetes API server over real HTTP for the unmodified ``kubernetes`` client.

    ``server = FakeKubernetes().start()``; point the client at ``server.url``; ``server.stop()``.
    ``server.store`` is the state (Python hooks for a simulated scheduler/kubelet), ``server.calls`` counts
    requests per ``(verb, resource)``, ``server.fail_next(...)`` injects errors.
    """

    def __init__(self, custom_resources: tuple[ResourceType, ...] = (IMAGE_PULL_JOB,), host: str = "127.0.0.1",
                 port: int = 0, history: int = 10_000, require_namespaces: bool = True,
                 max_watch_seconds: float = 1800.0, latency: float = 0.0):
        self.store = Store(custom_resources, history=history, require_namespaces=require_namespaces)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.latency = latency  # seconds added to every request (a slower, remoter API server)
        self.max_watch_seconds = max_watch_seconds
        self._host, self._port = host, port
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> FakeKubernetes:
        self._httpd = _HTTPServer((self._host, self._port), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-kubernetes", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.store.close()  # ends watches and log follows
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeKubernetes:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake API server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def configuration(self):
        """A ``kubernetes.client.Configuration`` for this server (no auth)."""
        from kubernetes import client

        return client.Configuration(host=self.url)

    def kubeconfig(self, token: str = "cluster-token") -> str:
        """A kubeconfig document for this server, as an operator would store it in a Cluster record."""
        return kubeconfig_for(self.url, token)

    def api_client(self):
        from kubernetes import client

        return client.ApiClient(self.configuration())

    # --- counters and faults --------------------------------------------------------------------------
    def count(self, verb: str | None = None, resource: str | None = None) -> int:
        """Requests so far, optionally only one verb and/or resource (``"pods"``, ``"pods/log"``)."""
        with self._lock:
            return sum(n for (v, r), n in self.calls.items()
                       if verb in (None, v) and resource in (None, r))

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def fail_next(self, verb: str, resource: str, code: int = 500, message: str | None = None,
                  times: int = 1) -> None:
        """The next ``times`` matching requests answer a ``Status`` with ``code`` instead of running."""
        with self._lock:
            text = message or f"injected failure ({REASONS.get(code, code)}) for {verb} {resource}"
            self._faults.append(Fault(verb, resource, code, text, times))

    def _take_fault(self, verb: str, target) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(verb, target):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _count(self, verb: str, resource: str) -> None:
        with self._lock:
            self.calls[(verb, resource)] += 1

    # --- requests -------------------------------------------------------------------------------------
    def respond(self, method: str, raw_path: str, body: bytes, content_type: str | None) -> Reply | Stream:
        if self.latency:
            time.sleep(self.latency)
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        target = route(self.store.registry, parts.path)
        if isinstance(target, Discovery):
            self._count("discovery", parts.path)
            return self._discovery(target)
        verb = verb_of(method, target, query)
        self._count(verb, target.counter_resource)
        fault = self._take_fault(verb, target)
        if fault is not None:
            raise ApiError(fault.code, fault.message)
        return handle(self.store, method, target, query, body, content_type, self.max_watch_seconds)

    def _discovery(self, what: Discovery) -> Reply:
        registry = self.store.registry
        if what.what == "version":
            return Reply(200, discovery.VERSION)
        if what.what == "health":
            return Reply(200, "ok", "text/plain")
        if what.what == "api":
            return Reply(200, discovery.api_versions())
        if what.what == "apis":
            return Reply(200, discovery.api_group_list(registry))
        if what.what == "group":
            return Reply(200, discovery.api_group(registry, what.group))
        return Reply(200, discovery.resource_list(registry, what.group, what.version))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    fake: FakeKubernetes

    def __init__(self, *args, **kwargs):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client dropping its keep-alive connection is not an error
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; streams are chunked
    server: _HTTPServer
    # the stdlib's own errors (malformed requests, unknown methods) as Status JSON, never HTML
    error_content_type = JSON
    error_message_format = ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                            '"message":"%(message)s","reason":"BadRequest","code":%(code)d}')

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle: no 40 ms stalls
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        try:
            result = self.server.fake.respond(self.command, self.path, body, self.headers.get("Content-Type"))
        except ApiError as exc:
            result = Reply(exc.code, exc.status())
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must answer 500, not hang the client
            traceback.print_exc()
            result = Reply(500, ApiError(500, f"fake API server error: {exc!r}").status())
        if isinstance(result, Stream):
            self._send_stream(result)
        else:
            self._send(result)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch  # noqa: N815

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, str):
            data, content_type = reply.body.encode(), f"{reply.content_type}; charset=utf-8"
        else:
            data, content_type = json.dumps(reply.body, separators=(",", ":")).encode(), JSON
        self.send_response(reply.code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, stream: Stream) -> None:
        content_type = JSON if stream.content_type == JSON else f"{stream.content_type}; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in stream.chunks:
                data = chunk.encode()
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
