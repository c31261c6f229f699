"""The Buildbot side of ``bench/compare_buildbot.py``: its own virtualenv, a master and a worker, its REST API.

Buildbot is not a dependency of this project: the benchmark installs pinned ``buildbot``,
``buildbot-worker`` and ``buildbot-www`` (the master refuses to serve its REST API without the www
package) into a virtualenv of its own (``var/bench/buildbot-venv`` by default, reused when the pins
match), next to matplotlib for the plot. Nothing here imports Buildbot: the master and the worker run
as subprocesses of that venv, and the benchmark talks to the master over HTTP like any client would.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from engine_util import REPO, log, run

BUILDBOT_VERSION = "4.3.0"
MATPLOTLIB_VERSION = "3.11.2"
PINS = [
    f"buildbot=={BUILDBOT_VERSION}",
    f"buildbot-worker=={BUILDBOT_VERSION}",
    f"buildbot-www=={BUILDBOT_VERSION}",
    "psycopg2-binary==2.9.10",  # only for --buildbot-db postgres (SQLAlchemy's postgresql+psycopg2 dialect)
    f"matplotlib=={MATPLOTLIB_VERSION}",
]
DEFAULT_VENV = REPO / "var" / "bench" / "buildbot-venv"
SUCCESS = 0  # buildbot.process.results.SUCCESS

# One builder: a fresh shallow clone of the same repository our side clones (like our implicit Clone stage:
# a new workspace each time), then six `true` steps. A string command runs through /bin/sh -c, as ours does.
# No request collapsing anywhere. The concurrent slots are worker processes with max_builds=1 each: Buildbot
# runs at most one build of a builder on a given worker at a time (they share the builder's directory), so
# one worker with max_builds=2 still builds one request after the other.
MASTER_CFG = """\
# Written by bench/compare_buildbot.py; the master's directory is removed at the end of the run.
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["buildbotNetUsageData"] = None
c["title"] = "devops bench"
c["buildbotURL"] = "http://127.0.0.1:{www_port}/"
c["db"] = {{"db_url": {db_url!r}}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
c["www"] = {{"port": "tcp:{www_port}:interface=127.0.0.1", "plugins": {{}}}}
c["workers"] = [worker.Worker(f"bench-worker-{{i}}", "bench-pass", max_builds=1) for i in range({slots})]
c["collapseRequests"] = False
c["change_source"] = []
c["schedulers"] = [schedulers.ForceScheduler(name="force", builderNames=["bench"])]

factory = util.BuildFactory()
factory.addStep(steps.Git(repourl={repo!r}, branch="main", mode="full", method="clobber", shallow=True,
                          name="clone"))
for i in range(6):
    factory.addStep(steps.ShellCommand(command="true", name=f"true-{{i + 1}}"))
c["builders"] = [util.BuilderConfig(name="bench", workernames=[w.workername for w in c["workers"]],
                                    factory=factory, collapseRequests=False)]
"""


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(path: Path) -> Path:
    """Create (or reuse) the Buildbot virtualenv with the pinned versions; returns its python."""
    py = path / "bin" / "python"
    stamp = path / ".pins"
    if py.exists() and stamp.exists() and stamp.read_text().split() == PINS:
        log(f"reusing {path} ({' '.join(PINS)})")
        return py
    t = time.monotonic()
    if not py.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "venv", str(path)])
    run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([str(py), "-m", "pip", "install", "-q", *PINS])
    stamp.write_text("\n".join(PINS) + "\n")
    log(f"installed {' '.join(PINS)} into {path} in {time.monotonic() - t:.0f}s")
    return py


def venv_versions(py: Path) -> str:
    """The resolved versions that matter for Buildbot's speed (its pins are lower bounds only)."""
    names = ["buildbot", "buildbot-worker", "Twisted", "SQLAlchemy", "autobahn"]
    code = f"import importlib.metadata as m; print(' '.join(n + '==' + m.version(n) for n in {names!r}))"
    return run([str(py), "-c", code]).stdout.strip()


class Rest:
    """A keep-alive HTTP/1.1 connection to the master's REST API (``/api/v2``)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: object = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/api/v2" + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()  # the master closed an idle keep-alive connection: reconnect once
                if attempt == 2:
                    raise
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {payload[:500]!r}")
        return json.loads(payload)

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def force(self, builderid: int) -> int:
        """Force one build through the force scheduler's JSON-RPC endpoint; returns the buildset id."""
        body = {"jsonrpc": "2.0", "method": "force", "id": 1, "params": {"builderid": str(builderid)}}
        answer = self.request("POST", "/forceschedulers/force", body)
        if "error" in answer:
            raise RuntimeError(f"force failed: {answer['error']}")
        return int(answer["result"][0])

    def close(self) -> None:
        self.conn.close()


class BuildbotWorld:
    """A master and ``slots`` workers, all started from the Buildbot venv under ``root``; stopped at the end."""

    def __init__(self, root: Path, venv_python: Path, repo: Path, slots: int, db_url: str):
        self.root, self.repo, self.slots, self.db_url = root, repo, slots, db_url
        self.bin = venv_python.parent
        self.master_dir = root / "master"
        self.www_port, self.pb_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.rest: Rest | None = None
        self.builderid = 0
        self.polls = 0  # completion polls sent, to put a CPU price on observing

    def create(self) -> None:
        """``create-master`` (creates the database schema), ``master.cfg``, ``checkconfig``, one worker dir per slot."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = self._env()
        run([str(self.bin / "buildbot"), "create-master", "-q", "--db", self.db_url, str(self.master_dir)], env=env)
        (self.master_dir / "master.cfg").write_text(MASTER_CFG.format(
            www_port=self.www_port, pb_port=self.pb_port, slots=self.slots, repo=str(self.repo), db_url=self.db_url
        ))  # fmt: skip
        run([str(self.bin / "buildbot"), "checkconfig", str(self.master_dir)], env=env)
        for i in range(self.slots):
            run([str(self.bin / "buildbot-worker"), "create-worker", "-q", "--umask=0o22",
                 str(self.root / f"worker-{i}"), f"127.0.0.1:{self.pb_port}", f"bench-worker-{i}", "bench-pass"],
                env=env)  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
        env["PATH"] = f"{self.bin}:{env.get('PATH', '/usr/bin:/bin')}"
        env.pop("VIRTUAL_ENV", None)
        return env

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.root / f"{name}.log", "ab") as out:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self._env(),
                                                start_new_session=True)  # fmt: skip
        log(f"buildbot {name} pid {self.procs[name].pid}: {Path(argv[0]).name} {' '.join(argv[1:])}")

    def start(self) -> None:
        t = time.monotonic()
        self._spawn("master", [str(self.bin / "buildbot"), "start", "--nodaemon", str(self.master_dir)])
        rest = self.rest = Rest(self.www_port)
        self._wait(lambda: rest.get("/builders?name=bench")["builders"], "master REST API", 90)
        self.builderid = rest.get("/builders?name=bench")["builders"][0]["builderid"]
        for i in range(self.slots):
            self._spawn(f"worker-{i}", [str(self.bin / "buildbot-worker"), "start", "--nodaemon",
                                        str(self.root / f"worker-{i}")])  # fmt: skip

        def connected() -> bool:
            return sum(bool(w["connected_to"]) for w in rest.get("/workers")["workers"]) == self.slots

        self._wait(connected, f"{self.slots} worker connections", 60)
        log(f"buildbot master (www :{self.www_port}, pb :{self.pb_port}) and {self.slots} workers up in "
            f"{time.monotonic() - t:.1f}s")  # fmt: skip

    def _wait(self, probe: Callable[[], object], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = (self.root / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise SystemExit(f"buildbot {name} exited while waiting for the {what}:\n{tail}")
            try:
                if probe():
                    return
            except (OSError, RuntimeError, http.client.HTTPException, ValueError):
                pass  # not listening yet
            time.sleep(0.2)
        raise SystemExit(f"buildbot: no {what} within {timeout:.0f}s; logs in {self.root}")

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    # --- measuring ----------------------------------------------------------------------------------------
    def poll_cost(self, n: int = 100) -> float:
        """CPU seconds the master spends answering one completion poll (measured idle, ``n`` requests)."""
        assert self.rest is not None
        master = self.procs["master"].pid
        # An id past the last buildset: an empty answer, as most polls during a build get.
        query = "/buildsets?bsid__ge=1000000000&complete=true&field=bsid&field=complete&field=results"
        before = _cpu(master)
        for _ in range(n):
            self.rest.get(query)
        return (_cpu(master) - before) / n

    def trigger(self) -> int:
        assert self.rest is not None
        return self.rest.force(self.builderid)

    def wait(self, bsids: list[int], poll: float, timeout: float) -> tuple[float, dict[int, float]]:
        """Poll the REST API until every buildset is complete; (perf_counter when the last was seen, per-id)."""
        assert self.rest is not None
        pending, seen = set(bsids), {}
        query = f"/buildsets?bsid__ge={min(bsids)}&complete=true&field=bsid&field=complete&field=results"
        deadline = time.perf_counter() + timeout
        while pending:
            rows = self.rest.get(query)["buildsets"]
            self.polls += 1
            now = time.perf_counter()
            for row in rows:
                bsid = row["bsid"]
                if bsid in pending:
                    if row["results"] != SUCCESS:
                        raise SystemExit(f"buildbot buildset {bsid} ended with results={row['results']}; "
                                         f"logs in {self.root}")  # fmt: skip
                    seen[bsid] = now
                    pending.discard(bsid)
            if not pending:
                break
            if now > deadline:
                raise SystemExit(f"buildbot: {len(pending)} buildsets not complete after {timeout:.0f}s")
            time.sleep(poll)
        return max(seen.values()), seen

    # --- teardown -----------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.rest is not None:
            self.rest.close()
        # The workers first, so the master sees clean disconnects.
        for name in sorted(self.procs, key=lambda n: n == "master"):
            proc = self.procs[name]
            if proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session), nothing else
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            log(f"buildbot {name} stopped (exit {proc.returncode})")
