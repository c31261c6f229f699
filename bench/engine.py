#!/usr/bin/env python
"""Engine benchmark: trigger -> final state through the real engine, a real Celery worker and real steps.

It builds its own world and tears it down again:

* PostgreSQL: a dedicated database (``devops_bench``) on 127.0.0.1:5432 (user postgres, trust auth),
  created at start and dropped at the end; Redis db 14 as the broker, flushed at start and at the end.
  With ``--sqlite``: the embedded default instead (SQLite file + filesystem broker) under the temp dir.
* ``DEVOPS_VAR_DIR`` (workspaces, logs, mirrors, caches) in a temp dir; ``manage.py migrate``.
* A real worker subprocess: ``celery -A config worker -Q engine,runner,hooks,maintenance -P threads``.
* A real git repository whose ``.devops.yml`` has 3 stages x 2 parallel ``runScriptConfig`` steps
  running ``true`` (the parser adds the implicit Clone stage in front, so 4 stages and 7 steps run).

Figures (one summary line each, then a breakdown from the rows' own timestamps):

(a) latency: one execution at a time, trigger (the call to ``devops.triggers.trigger_pipeline``, which
    includes resolving the commit and reading the file) -> final state seen by the benchmark: on
    PostgreSQL a trigger on the bench database NOTIFYs at the engine's commit (no polling load on the
    machine being measured); ``--observe poll`` (and ``--sqlite``) poll every ``--poll`` seconds instead.
    Median / p90 / min over ``--samples`` after ``--warmup`` runs.
(b) per-step overhead: (median latency - the steps' own process time) / steps, where the own process
    time is measured here by running the very same commands outside the engine (the clone script once,
    plus one ``/bin/sh -ec true`` per stage, since a stage's two steps overlap).
(c) throughput: ``--concurrent`` executions triggered back to back on a project with executor-quota 0
    (no limit), from the first trigger call to the last final state; and the same with quota 2.

Prints figures; asserts nothing. ``python bench/engine.py --help`` for options.
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
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FINAL = ("Success", "Failed", "Aborted")
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
LATENCY_GOAL = 0.30
THROUGHPUT_GOAL = 5.0


# --- small helpers ---------------------------------------------------------------------------------
def ms(seconds: float | None) -> str:
    return "   n/a" if seconds is None else f"{seconds * 1000:6.1f}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def log(message: str) -> None:
    print(f"# {message}", flush=True)


# --- the environment -------------------------------------------------------------------------------
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
            "-Q", "engine,runner,hooks,maintenance", "-P", "threads", "-c", str(self.args.worker_concurrency),
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


# --- observing executions ----------------------------------------------------------------------------
NOTIFY_SQL = """
CREATE OR REPLACE FUNCTION bench_notify_final() RETURNS trigger AS $$
BEGIN
  IF NEW.state IN ('Success', 'Failed', 'Aborted') AND NEW.state IS DISTINCT FROM OLD.state THEN
    PERFORM pg_notify('bench_final', NEW.id::text);
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_notify_final AFTER UPDATE OF state ON devops_pipelineexecution
  FOR EACH ROW EXECUTE FUNCTION bench_notify_final();
"""


class NotFinal(Exception):
    def __init__(self, pending: list[int], timeout: float):
        super().__init__(f"{len(pending)} executions not final after {timeout:.0f}s: {pending}")
        self.pending = pending


class Observer:
    """Sees executions reach a final state.

    ``notify`` (PostgreSQL, the default there): a trigger the benchmark adds to its own database sends
    ``pg_notify`` when a row enters a final state, delivered when the engine's transaction commits; no
    polling load on the 2 CPUs being measured. ``poll``: ask the database every ``interval`` seconds.
    """

    def __init__(self, mode: str, interval: float, database: str = ""):
        self.mode, self.interval = mode, interval
        self.conn = None
        if mode == "notify":
            import psycopg

            dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={database}"
            with psycopg.connect(dsn, autocommit=True) as setup:
                setup.execute(NOTIFY_SQL)
            self.conn = psycopg.connect(dsn, autocommit=True)
            self.conn.execute("LISTEN bench_final")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def _final_now(self, ids: set[int]) -> list[int]:
        from devops.models import PipelineExecution

        return list(PipelineExecution.objects.filter(pk__in=ids, state__in=FINAL).values_list("id", flat=True))

    def wait(self, execution_ids: list[int], timeout: float) -> tuple[float, dict[int, float]]:
        """Block until every execution is final; (perf_counter when the last was seen, per-id seen)."""
        pending = set(execution_ids)
        seen: dict[int, float] = {}
        deadline = time.perf_counter() + timeout
        while pending:
            if self.conn is not None:
                # Notifications carry the id; the query every 0.5 s is only a safety net.
                for note in self.conn.notifies(timeout=0.5):
                    eid = int(note.payload)
                    if eid in pending:
                        seen[eid] = time.perf_counter()
                        pending.discard(eid)
                        if not pending:
                            break
                if not pending:
                    break
            found = self._final_now(pending)
            now = time.perf_counter()
            for eid in found:
                seen[eid] = now
                pending.discard(eid)
            if not pending:
                break
            if now > deadline:
                raise NotFinal(sorted(pending), timeout)
            if self.conn is None:
                time.sleep(self.interval)
        return max(seen.values()), seen


def timeline(execution_id: int) -> dict[str, object]:
    """Every timestamp the rows hold, as epoch seconds."""
    from devops.models import PipelineExecution, StageRun, StepRun

    ex = PipelineExecution.objects.get(pk=execution_id)
    stages = defaultdict(dict)  # type: ignore[var-annotated]
    for st in StageRun.objects.filter(execution_id=execution_id).order_by("index"):
        stages[st.index].update(name=st.name, state=st.state, start=ts(st.started_at), end=ts(st.ended_at), steps=[])
    for sp in StepRun.objects.filter(execution_id=execution_id).order_by("stage_index", "index"):
        stages[sp.stage_index]["steps"].append({"start": ts(sp.started_at), "end": ts(sp.ended_at), "state": sp.state})
    return {
        "state": ex.state,
        "reason": ex.reason,
        "created": ts(ex.created_at),
        "admitted": ts(ex.admitted_at),
        "launched": ts(ex.launched_at),
        "building": ts(ex.started_at),
        "ended": ts(ex.ended_at),
        "stages": [stages[i] for i in sorted(stages)],
    }


def breakdown(sample: dict[str, float], tl: dict[str, object]) -> dict[str, float]:
    """Consecutive intervals from the trigger call to the moment the bench saw the final state (they add up)."""
    parts: dict[str, float] = {}
    parts["trigger_pipeline() call"] = sample["trigger_out"] - sample["trigger_in"]
    parts["  of which git + file read + parse"] = sample["create_in"] - sample["trigger_in"]
    parts["  of which create_execution (1 txn)"] = sample["trigger_out"] - sample["create_in"]
    parts["returned -> admitted (admit task)"] = tl["admitted"] - sample["trigger_out"]  # type: ignore[operator]
    parts["admitted -> launched (start task)"] = tl["launched"] - tl["admitted"]  # type: ignore[operator]
    parts["launched -> Building (runner task)"] = tl["building"] - tl["launched"]  # type: ignore[operator]
    stages = tl["stages"]
    assert isinstance(stages, list)
    prev = tl["building"]
    prev_label = "Building"
    for st in stages:
        label = st["name"]
        parts[f"{prev_label} -> stage {label} started"] = st["start"] - prev  # type: ignore[operator]
        steps = st["steps"]
        first_start = min(s["start"] for s in steps)
        last_start = max(s["start"] for s in steps)
        last_end = max(s["end"] for s in steps)
        parts[f"stage {label}: start -> last step started"] = last_start - st["start"]
        parts[f"stage {label}: last step started -> last step ended"] = last_end - last_start
        parts[f"stage {label}: last step ended -> stage ended"] = st["end"] - last_end
        parts[f"  (stage {label} wall)"] = st["end"] - st["start"]
        parts[f"  (stage {label} first step spawned after)"] = first_start - st["start"]
        prev, prev_label = st["end"], f"stage {label} ended"
    parts[f"{prev_label} -> execution final (finish)"] = tl["ended"] - prev  # type: ignore[operator]
    parts["final -> seen by the bench"] = sample["seen"] - tl["ended"]  # type: ignore[operator]
    return parts


# --- (a) + (b) latency ---------------------------------------------------------------------------------
def measure_latency(
    pipeline: object, args: argparse.Namespace, world: World, observer: Observer
) -> tuple[list[float], list[dict[str, float]], float | None]:
    from devops import engine, triggers

    # Split trigger_pipeline at the moment it hands over to the engine, without touching the engine.
    marks: dict[str, float] = {}
    real_create = engine.create_execution

    def create_marked(*a: object, **kw: object) -> object:
        marks["create_in"] = time.time()
        return real_create(*a, **kw)  # type: ignore[arg-type]

    latencies: list[float] = []
    parts: list[dict[str, float]] = []
    sessions_before: int | None = None
    engine.create_execution = create_marked  # type: ignore[assignment]
    try:
        for i in range(args.warmup + args.samples):
            wall0, t0 = time.time(), time.perf_counter()
            execution = triggers.trigger_pipeline(pipeline)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            done, _ = observer.wait([execution.pk], timeout=120 if i < args.warmup else 60)
            latency = done - t0
            tl = timeline(execution.pk)
            if tl["state"] != "Success":
                raise SystemExit(f"execution {execution.pk} ended {tl['state']}: {tl['reason']}")
            sample = {
                "trigger_in": wall0,
                "create_in": marks["create_in"],
                "trigger_out": wall0 + (t1 - t0),
                "seen": wall0 + latency,
            }
            if i < args.warmup:
                log(f"warm-up {i + 1}: {latency:.3f}s")
                if i == args.warmup - 1:
                    sessions_before = world.sessions()
                continue
            latencies.append(latency)
            parts.append(breakdown(sample, tl))
            if args.verbose:
                log(f"sample {i - args.warmup + 1}: {latency:.3f}s (trigger call {t1 - t0:.3f}s)")
            time.sleep(args.pause)
    finally:
        engine.create_execution = real_create  # type: ignore[assignment]
    sessions_after = world.sessions()
    per_execution = None
    if sessions_before is not None and sessions_after is not None:
        per_execution = (sessions_after - sessions_before) / len(latencies)
    return latencies, parts, per_execution


# --- (c) throughput ----------------------------------------------------------------------------------------
def measure_throughput(
    pipeline: object, n: int, threads: int, observer: Observer, timeout: float
) -> dict[str, float]:
    from devops import triggers
    from devops.models import PipelineExecution

    def one(_: int) -> int:
        from django.db import connection

        try:
            return triggers.trigger_pipeline(pipeline).pk  # type: ignore[arg-type]
        finally:
            if threads > 1:
                connection.close()

    t0 = time.perf_counter()
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            ids = list(pool.map(one, range(n)))
    else:
        ids = [one(i) for i in range(n)]
    t_triggered = time.perf_counter()
    try:
        t_done, _ = observer.wait(ids, timeout=timeout)
    except NotFinal as exc:
        stuck = Counter(
            PipelineExecution.objects.filter(pk__in=exc.pending).values_list("state", flat=True)
        )
        log(f"STUCK: {exc}; their states: {dict(stuck)}")
        return {"n": n, "stuck": len(exc.pending), "timeout": timeout, "trigger_phase": t_triggered - t0}
    rows = list(
        PipelineExecution.objects.filter(pk__in=ids).values_list("state", "created_at", "started_at", "ended_at")
    )
    reasons = Counter(
        f"{state}: {reason[:200]}"
        for state, reason in PipelineExecution.objects.filter(pk__in=ids).exclude(state="Success").values_list(
            "state", "reason"
        )
    )
    for reason, count in reasons.items():
        log(f"{count} x {reason}")
    states = [r[0] for r in rows]
    failed = len([s for s in states if s != "Success"])
    run_times = [(r[3] - r[2]).total_seconds() for r in rows if r[2] and r[3]]
    queue_times = [(r[2] - r[1]).total_seconds() for r in rows if r[1] and r[2]]
    total = t_done - t0
    return {
        "n": n,
        "total": total,
        "rate": n / total,
        "trigger_phase": t_triggered - t0,
        "failed": failed,
        "run_median": statistics.median(run_times),
        "queue_median": statistics.median(queue_times),
        "queue_max": max(queue_times),
    }


def print_trace(path: Path) -> None:
    """Per task: published -> received (broker), received -> prerun (pool), prerun -> postrun (body)."""
    events: dict[str, dict[str, float]] = defaultdict(dict)
    names: dict[str, str] = {}
    for line in path.read_text().splitlines():
        event, name, task_id, when = line.split()
        events[task_id].setdefault(event, float(when))
        if name != "None":
            names[task_id] = name
    per_name: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for task_id, ev in events.items():
        name = names.get(task_id, "?").rsplit(".", 1)[-1]
        for label, a, b in (("broker", "published", "received"), ("pool", "received", "prerun"),
                            ("body", "prerun", "postrun")):  # fmt: skip
            if a in ev and b in ev:
                per_name[name][label].append(ev[b] - ev[a])
    print()
    print("task hops over the latency run (median ms; broker = published -> received by the worker, "
          "pool = received -> running in a thread, body = the task itself):")
    for name, d in sorted(per_name.items()):
        cells = "  ".join(f"{label} {ms(statistics.median(v))} (p90 {ms(pct(v, 0.9))})" for label, v in d.items())
        print(f"  {name:<22} n={len(next(iter(d.values())))}  {cells}")


# --- main --------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20, help="latency samples (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="latency warm-up runs, not counted (default 2)")
    parser.add_argument("--concurrent", type=int, default=50, help="executions for the throughput run (default 50)")
    parser.add_argument("--sqlite", action="store_true", help="embedded default: SQLite + filesystem broker")
    parser.add_argument("--worker-concurrency", type=int, default=16, help="worker threads (default 16, as the CLI)")
    parser.add_argument("--trigger-threads", type=int, default=1,
                        help="threads issuing the throughput triggers (default 1: back to back)")
    parser.add_argument("--observe", choices=["notify", "poll"], default="notify",
                        help="how final states are seen on PostgreSQL: LISTEN/NOTIFY from a trigger on the bench "
                        "database (default), or polling (always polling with --sqlite)")
    parser.add_argument("--poll", type=float, default=0.002, help="poll interval in seconds (default 0.002)")
    parser.add_argument("--pause", type=float, default=0.05, help="idle time between latency samples (default 0.05)")
    parser.add_argument("--timeout", type=float, default=180,
                        help="give up on a throughput run after this many seconds (default 180)")
    parser.add_argument("--skip-quota2", action="store_true", help="skip the reference throughput run at quota 2")
    parser.add_argument("--database", default="devops_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the database")
    parser.add_argument("--trace", action="store_true",
                        help="run the worker through bench/traced_worker.py and split each task hop into "
                        "broker / pool / body time (Celery signals)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    world = World(args)
    try:
        world.environment()
        world.migrate()
        import django

        django.setup()
        from devops.services import ensure_pipeline, ensure_project, set_project_setting

        repo = make_repo(world.tmp / "repo")
        true_s, clone_s = own_process_times(repo, world.tmp)
        if args.trace:
            sys.path.insert(0, str(REPO / "bench"))
            import traced_worker

            traced_worker.install(str(world.trace_file))
        world.start_worker()

        log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        backend = "SQLite + filesystem broker" if args.sqlite else "PostgreSQL + Redis"
        seen_by = f"polling every {args.poll * 1e3:g} ms"
        if not args.sqlite and args.observe == "notify":
            seen_by = "LISTEN/NOTIFY"
        log(f"backend: {backend}; worker -P threads -c {args.worker_concurrency}; final states seen by {seen_by}")

        lat_project = ensure_project("bench-latency")
        set_project_setting(lat_project, "executor-quota", "0")
        lat_pipeline, _ = ensure_pipeline(lat_project, "bench", str(repo))
        observe = "poll" if args.sqlite else args.observe
        observer = Observer(observe, args.poll, args.database)
        world.observer = observer
        latencies, parts, sessions = measure_latency(lat_pipeline, args, world, observer)

        med = statistics.median(latencies)
        print()
        print(f"engine latency median={med:.3f}s p90={pct(latencies, 0.9):.3f}s min={min(latencies):.3f}s "
              f"max={max(latencies):.3f}s n={len(latencies)} (goal <= {LATENCY_GOAL:.2f}s) "
              f"{'MET' if med <= LATENCY_GOAL else 'MISSED'}")  # fmt: skip
        trig = [p["trigger_pipeline() call"] for p in parts]
        after = [lat - t for lat, t in zip(latencies, trig, strict=True)]
        print(f"engine latency split: inside trigger_pipeline median={statistics.median(trig):.3f}s, "
              f"after it returned median={statistics.median(after):.3f}s")  # fmt: skip

        steps, user_steps, stages = 7, 6, 4
        own = clone_s + 3 * true_s
        overhead = (med - own) / steps
        print(f"engine per-step overhead={overhead * 1000:.1f}ms per step "
              f"(= (median {med * 1000:.0f}ms - own process time {own * 1000:.0f}ms) / {steps} steps; own = clone "
              f"script {clone_s * 1000:.0f}ms + 3 stages x `sh -ec true` {true_s * 1000:.1f}ms, measured outside the "
              f"engine; {stages} stages incl. the implicit Clone, {user_steps} user steps)")  # fmt: skip

        # Median of each interval; the medians need not add up exactly to the median latency.
        print()
        print("breakdown (median over samples, ms; rows without parentheses are consecutive and add up):")
        for key in parts[0]:
            values = [p[key] for p in parts]
            print(f"  {key:<58} {ms(statistics.median(values))}  (p90 {ms(pct(values, 0.9))})")
        consecutive = [k for k in parts[0] if not k.startswith(" ")]
        total = statistics.median([sum(p[k] for k in consecutive) for p in parts])
        print(f"  {'sum of consecutive rows (median)':<58} {ms(total)}")
        engine_only = [p["returned -> admitted (admit task)"] + p["admitted -> launched (start task)"]
                       + p["launched -> Building (runner task)"] for p in parts]  # fmt: skip
        print(f"  {'three task hops (admit, start, runner) together':<58} {ms(statistics.median(engine_only))}")
        if sessions is not None:
            print(f"engine db sessions opened per execution={sessions:.1f} (pg_stat_database.sessions over the latency "
                  "samples; 4 Celery tasks per execution: admit, start, run_local_execution, admit)")  # fmt: skip

        if args.trace:
            print_trace(world.trace_file)
            world.trace_file.write_text("")

        results = []
        for quota in ("0", "2") if not args.skip_quota2 else ("0",):
            project = ensure_project(f"bench-q{quota}")
            set_project_setting(project, "executor-quota", quota)
            pipeline, _ = ensure_pipeline(project, "bench", str(repo))
            r = measure_throughput(pipeline, args.concurrent, args.trigger_threads, observer, args.timeout)
            results.append((quota, r))
            if "stuck" in r:
                lines = world.worker_log.read_text(errors="replace").splitlines()
                errors = [line for line in lines if "Error" in line or "error" in line]
                log(f"worker log: {len(lines)} lines, {len(errors)} mention an error; last ones:")
                for line in errors[-8:]:
                    log(f"  {line[:300]}")
        print()
        for quota, r in results:
            if "stuck" in r:
                print(f"engine throughput quota={quota} executions/s=n/a: {r['stuck']} of {r['n']} executions not "
                      f"final after {r['timeout']:.0f}s (triggering took {r['trigger_phase']:.2f}s) "
                      + ("(goal >= 5/s) MISSED" if quota == "0" else "(reference)"))  # fmt: skip
                continue
            goal = f" (goal >= {THROUGHPUT_GOAL:g}/s) {'MET' if r['rate'] >= THROUGHPUT_GOAL else 'MISSED'}"
            if quota != "0":
                goal = " (reference)"
            print(f"engine throughput quota={quota} executions/s={r['rate']:.2f} ({r['n']} in {r['total']:.2f}s; "
                  f"triggering took {r['trigger_phase']:.2f}s; per execution Building->final median "
                  f"{r['run_median']:.3f}s, created->Building median {r['queue_median']:.2f}s max "
                  f"{r['queue_max']:.2f}s; not Success: {r['failed']}){goal}")  # fmt: skip
        print()
        print(f"own process time outside the engine: sh -ec true {true_s * 1000:.1f}ms, clone script "
              f"{clone_s * 1000:.1f}ms (nproc {os.cpu_count()}; load average at the end "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip
    finally:
        world.teardown()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
