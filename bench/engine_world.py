"""The engine benchmark's world: database, broker, var dir, worker, git repository; own process times.

Set up before Django is imported and torn down at the end; see ``bench/engine.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine_util import REPO, log, run

if TYPE_CHECKING:
    from engine_measure import Observer

PIPELINE_FILE = """\
stages:
  - name: one
    steps:
      - runScriptConfig: {image: busybox, shellScript: "true"}
      - runScriptConfig: {image: busybox, shellScript: "true"}
  - name: two
    steps:
      - runScriptConfig: {image: busybox, shellScript: "true"}
      - runScriptConfig: {image: busybox, shellScript: "true"}
  - name: three
    steps:
      - runScriptConfig: {image: busybox, shellScript: "true"}
      - runScriptConfig: {image: busybox, shellScript: "true"}
"""


class World:
    """Database, broker, var dir, worker: set up before Django is imported, torn down at the end."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="devops-bench-"))
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_log = self.tmp / "worker.log"
        self.db_created = False
        self.observer: Observer | None = None
        self.trace_file = self.tmp / "tasks.trace"
        self.queues = "engine,runner,hooks,maintenance"

    def environment(self) -> None:
        env = os.environ
        env["DJANGO_SETTINGS_MODULE"] = "config.settings"
        env["DEVOPS_VAR_DIR"] = str(self.tmp / "var")
        env["DEFAULT_CACHE_ROOT"] = str(self.tmp / "var" / "cache")
        env.setdefault("LOG_LEVEL", "WARNING")
        if self.args.sqlite:
            env.pop("DATABASE_URL", None)
            env["CELERY_BROKER_URL"] = "filesystem://"
            broker = self.tmp / "var" / "broker"
            (broker / "processed").mkdir(parents=True, exist_ok=True)
        else:
            env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.args.database}"
            env["CELERY_BROKER_URL"] = self.args.redis
            self._create_database()
            self._flush_redis()

    def _admin_sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def sessions(self) -> int | None:
        """PostgreSQL sessions ever opened on the bench database (pg_stat_database.sessions)."""
        if self.args.sqlite:
            return None
        import psycopg

        time.sleep(1.2)  # backends flush their statistics about once a second
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [self.args.database])
            value = row.fetchone()
        return int(value[0]) if value else None

    def _create_database(self) -> None:
        name = self.args.database
        self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin_sql(f'CREATE DATABASE "{name}"')
        self.db_created = True

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.args.redis).flushdb()

    def migrate(self) -> None:
        t = time.monotonic()
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO)
        log(f"migrated in {time.monotonic() - t:.1f}s")

    def start_worker(self) -> None:
        head = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        if self.args.trace:
            head = [sys.executable, str(REPO / "bench" / "traced_worker.py"), str(self.trace_file)]
        argv = [
            *head,
            "-Q", self.queues, "-P", "threads", "-c", str(self.args.worker_concurrency),
            "--without-gossip", "--without-mingle", "-l", "warning", "-n", f"bench-{os.getpid()}@%h",
        ]  # fmt: skip
        with open(self.worker_log, "ab") as out:
            self.worker = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        log(f"worker pid {self.worker.pid}: {' '.join(argv[1:])}")
        if self.args.sqlite:
            return  # the filesystem broker cannot answer a ping; the warm-up executions wait for it
        from config.celery import app

        t = time.monotonic()
        while time.monotonic() - t < 60:
            if self.worker.poll() is not None:
                raise SystemExit(f"worker exited: see {self.worker_log}\n{self.worker_log.read_text()[-3000:]}")
            try:
                if app.control.ping(timeout=0.5):
                    log(f"worker answered ping after {time.monotonic() - t:.1f}s")
                    return
            except Exception:  # noqa: BLE001 - broker still starting: try again
                time.sleep(0.2)
        raise SystemExit("worker did not answer a ping within 60 s")

    def stop_worker(self) -> None:
        proc = self.worker
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session), nothing else
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def log_worker_errors(self) -> None:
        """After a stuck throughput run: the worker log's last lines that mention an error."""
        lines = self.worker_log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if "Error" in line or "error" in line]
        log(f"worker log: {len(lines)} lines, {len(errors)} mention an error; last ones:")
        for line in errors[-8:]:
            log(f"  {line[:300]}")

    def teardown(self) -> None:
        self.stop_worker()
        if self.observer is not None:
            self.observer.close()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not self.args.sqlite:
            if self.db_created and not self.args.keep:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
            self._flush_redis()
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    run(["git", "init", "-q", "-b", "main", str(path)])
    (path / ".devops.yml").write_text(PIPELINE_FILE)
    run([*git, "-C", str(path), "add", ".devops.yml"])
    run([*git, "-C", str(path), "commit", "-q", "-m", "bench: 3 stages x 2 parallel true steps"])
    return path


# --- what the steps themselves cost, outside the engine -----------------------------------------------
def own_process_times(repo: Path, tmp: Path, n: int = 20) -> tuple[float, float]:
    """Median wall time of ``/bin/sh -ec true`` and of the local executor's clone script."""
    from devops.executors.local.commands import CLONE_SCRIPT

    sha = run(["git", "-C", str(repo), "rev-parse", "HEAD"]).stdout.strip()

    def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
        t = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, check=True)  # fmt: skip
        return time.perf_counter() - t

    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
    true_times = [timed(["/bin/sh", "-ec", "true"], tmp, base) for _ in range(n)]
    clone_times = []
    for i in range(max(5, n // 4)):
        ws = tmp / f"clone-{i}"
        ws.mkdir()
        env = {**base, "DEVOPS_GIT_URL": str(repo), "DEVOPS_GIT_SHA": sha, "DEVOPS_GIT_BRANCH": "main",
               "GIT_TERMINAL_PROMPT": "0"}  # fmt: skip
        clone_times.append(timed(["/bin/sh", "-ec", CLONE_SCRIPT], ws, env))
        shutil.rmtree(ws)
    return statistics.median(true_times), statistics.median(clone_times)

