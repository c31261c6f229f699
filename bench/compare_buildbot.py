#!/usr/bin/env python
"""Side by side with Buildbot: the same trivial pipeline on both, in one run, on this machine.

Ours is built exactly as ``bench/engine.py`` builds it (``engine_world.World``): a dedicated PostgreSQL
database, Redis as the broker, a real Celery worker subprocess, and a git repository whose ``.devops.yml``
has 3 stages x 2 parallel ``true`` steps; the parser adds the implicit Clone stage in front, so 7 steps run.

Buildbot (``buildbot_world.BuildbotWorld``): pinned ``buildbot``/``buildbot-worker``/``buildbot-www`` in a
virtualenv of its own (``var/bench/buildbot-venv``, created on the first run and reused), a master with a
SQLite database (``--buildbot-db postgres``: a PostgreSQL database on the same server as ours) and one
local worker process per slot. One builder: a Git step (mode=full, method=clobber, shallow: a fresh
shallow clone of the same repository, like our Clone stage) and 6 ``ShellCommand`` steps running ``true``
through ``/bin/sh -c``, one after the other (Buildbot has no parallel steps inside a build), so 7 steps.
``collapseRequests=False``. A build is triggered through the force scheduler's REST endpoint
(``POST /api/v2/forceschedulers/force``, JSON-RPC ``force``), the fastest path into a build: it returns the
buildset id after the request is stored, without a change source or a tree-stable timer in between.

Fairness: both sides are observed the same way, by polling every ``--poll`` seconds (default 50 ms):
ours with one query on ``PipelineExecution`` (``engine_measure.Observer`` in poll mode), Buildbot with
``GET /api/v2/buildsets?complete=true`` over a keep-alive connection. Both systems are up for the whole run
and the latency samples alternate between them (ours, Buildbot, Buildbot, ours, ...) so that load from
other processes on the machine falls on both alike. Our trigger is the in-process call
``devops.triggers.trigger_pipeline`` (which resolves the commit and reads the file); Buildbot's is an HTTP
request to its master; the time each takes is printed.

Figures, one summary line each:
  latency: ``--samples`` runs one at a time after ``--warmup`` each, trigger -> completion seen.
  throughput: ``--concurrent`` pipelines triggered back to back with ``--slots`` concurrent slots on both
  (ours: project setting executor-quota; Buildbot: that many workers, max_builds=1 each), from the first
  trigger to the last completion seen.
  CPU: seconds of CPU per pipeline spent by each side's service processes during the latency samples.
and the line ``ours median=<s> buildbot median=<s> ratio=<buildbot/ours>`` (ratio > 1: ours is faster).
Plots go to ``docs/plots/`` (matplotlib from the Buildbot venv). Asserts nothing.
"""

# ``bench/`` is not a package: run as a script, this file's directory is sys.path[0] (see bench/engine.py).

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from buildbot_world import BUILDBOT_VERSION, DEFAULT_VENV, BuildbotWorld, ensure_venv, venv_versions
from engine_measure import Observer
from engine_util import REPO, log, pct
from engine_world import World, make_repo

PLOT_DIR = REPO / "docs" / "plots"


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, reaped children) CPU seconds of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def cpu_of(pids: list[int]) -> tuple[float, float]:
    parts = [cpu_seconds(pid) for pid in pids]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


class Ours:
    """Our side: one pipeline on a project with executor-quota = slots, observed by polling."""

    def __init__(self, world: World, repo: Path, args: argparse.Namespace):
        from devops.services import ensure_pipeline, ensure_project, set_project_setting

        project = ensure_project("bench-vs-buildbot")
        set_project_setting(project, "executor-quota", str(args.slots))
        self.pipeline, _ = ensure_pipeline(project, "bench", str(repo))
        self.observer = Observer("poll", args.poll)
        world.observer = self.observer
        self.worker_pid = world.worker.pid if world.worker else 0

    def trigger(self) -> int:
        from devops import triggers

        return triggers.trigger_pipeline(self.pipeline).pk

    def wait(self, ids: list[int], timeout: float) -> tuple[float, dict[int, float]]:
        from devops.models import PipelineExecution

        done, seen = self.observer.wait(ids, timeout)
        bad = list(PipelineExecution.objects.filter(pk__in=ids).exclude(state="Success").values_list("id", "reason"))
        if bad:
            raise SystemExit(f"ours: {len(bad)} executions did not succeed: {bad[:3]}")
        return done, seen

    def pids(self) -> list[int]:
        return [self.worker_pid]


def one_sample(side: Ours | BuildbotWorld, timeout: float, poll: float) -> tuple[float, float]:
    """(trigger -> completion seen, trigger call alone) for one pipeline."""
    t0 = time.perf_counter()
    ref = side.trigger()
    t1 = time.perf_counter()
    if isinstance(side, Ours):
        done, _ = side.wait([ref], timeout)
    else:
        done, _ = side.wait([ref], poll, timeout)
    return done - t0, t1 - t0


def latency_run(ours: Ours, bb: BuildbotWorld, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Warm-up, then alternating samples (ours first on even rounds, Buildbot first on odd ones)."""
    sides: dict[str, Ours | BuildbotWorld] = {"ours": ours, "buildbot": bb}
    out: dict[str, dict[str, list[float]]] = {name: {"latency": [], "trigger": [], "cpu": []} for name in sides}
    for i in range(args.warmup):
        for name, side in sides.items():
            lat, _ = one_sample(side, 120, args.poll)
            log(f"warm-up {i + 1} {name}: {lat:.3f}s")
            time.sleep(args.pause)
    cpu0 = {name: cpu_of(side.pids()) for name, side in sides.items()}
    polls0 = bb.polls
    for i in range(args.samples):
        order = ["ours", "buildbot"] if i % 2 == 0 else ["buildbot", "ours"]
        for name in order:
            lat, trig = one_sample(sides[name], 60, args.poll)
            out[name]["latency"].append(lat)
            out[name]["trigger"].append(trig)
            if args.verbose:
                log(f"sample {i + 1} {name}: {lat:.3f}s (trigger call {trig * 1000:.0f}ms)")
            time.sleep(args.pause)
    time.sleep(2)  # let work that follows completion (Buildbot compresses logs) land in the CPU figures
    for name, side in sides.items():
        own, children = cpu_of(side.pids())
        out[name]["cpu"] = [(own - cpu0[name][0]) / args.samples, (children - cpu0[name][1]) / args.samples]
    out["buildbot"]["polls"] = [(bb.polls - polls0) / args.samples, bb.poll_cost()]
    return out


def throughput_run(side: Ours | BuildbotWorld, n: int, poll: float, timeout: float) -> dict[str, object]:
    """``n`` pipelines triggered back to back; first trigger -> last completion seen.

    ``completions`` (for the plot) are when each pipeline was seen complete, except ours, which come from
    the rows' ``ended_at``: polling starts when the triggering is over, and ours complete during it.
    Buildbot's own ``complete_at`` has whole seconds only; its first builds end after its triggering.
    """
    wall0, t0 = time.time(), time.perf_counter()
    refs = [side.trigger() for _ in range(n)]
    t_triggered = time.perf_counter()
    if isinstance(side, Ours):
        from devops.models import PipelineExecution

        done, seen = side.wait(refs, timeout)
        ended = PipelineExecution.objects.filter(pk__in=refs).values_list("ended_at", flat=True)
        completions = sorted(e.timestamp() - wall0 for e in ended)
    else:
        done, seen = side.wait(refs, poll, timeout)
        completions = sorted(t - t0 for t in seen.values())
    total = done - t0
    return {"n": n, "total": total, "rate": n / total, "trigger_phase": t_triggered - t0,
            "completions": completions}  # fmt: skip


def summary(name: str, lat: dict[str, list[float]]) -> str:
    v = lat["latency"]
    trigger_ms = statistics.median(lat["trigger"]) * 1000
    return (f"{name} latency median={statistics.median(v):.3f}s p90={pct(v, 0.9):.3f}s min={min(v):.3f}s "
            f"max={max(v):.3f}s n={len(v)} (trigger call median {trigger_ms:.1f}ms)")  # fmt: skip


def plot(data: dict[str, object], venv_python: Path, plot_dir: Path) -> None:
    """Write the samples next to the plots and draw them with the Buildbot venv's matplotlib."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    samples = plot_dir / "ours_vs_buildbot.json"
    samples.write_text(json.dumps(data, indent=1) + "\n")
    script = REPO / "bench" / "buildbot_plot.py"
    proc = subprocess.run([str(venv_python), str(script), str(samples), str(plot_dir)], capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"no plots (matplotlib in {venv_python.parent.parent}?): {proc.stderr.strip()[-500:]}")
        return
    for line in proc.stdout.splitlines():
        log(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20, help="latency samples per side (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per side, not counted (default 2)")
    parser.add_argument("--concurrent", type=int, default=50, help="pipelines for the throughput run (default 50)")
    parser.add_argument("--slots", type=int, default=2, help="concurrent slots on both sides (default 2)")
    parser.add_argument("--poll", type=float, default=0.05, help="completion poll interval, both sides (default 0.05)")
    parser.add_argument("--pause", type=float, default=0.3, help="idle time between latency samples (default 0.3)")
    parser.add_argument("--timeout", type=float, default=600, help="give up on a throughput run after (default 600)")
    parser.add_argument("--buildbot-db", choices=["sqlite", "postgres"], default="sqlite",
                        help="Buildbot master database: SQLite file (default, as `buildbot create-master`) or a "
                        "PostgreSQL database on the same server as ours")  # fmt: skip
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"Buildbot virtualenv (default {DEFAULT_VENV})")
    parser.add_argument("--plot-dir", default=str(PLOT_DIR), help="where the PNGs go ('' for none)")
    parser.add_argument("--worker-concurrency", type=int, default=16, help="our worker's threads (default 16)")
    parser.add_argument("--database", default="devops_bench_buildbot")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the databases")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    args.sqlite, args.trace = False, False  # what engine_world.World reads besides the above

    venv_python = ensure_venv(args.venv)  # before anything starts: the first run installs for ~30 s
    log(f"buildbot venv: {venv_versions(venv_python)}")
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    world = World(args)
    bb: BuildbotWorld | None = None
    bb_database, bb_database_created = f"{args.database}_bb", False
    try:
        world.environment()
        world.migrate()
        import django

        django.setup()
        repo = make_repo(world.tmp / "repo")
        world.start_worker()
        ours = Ours(world, repo, args)

        db_url = "sqlite:///state.sqlite"
        if args.buildbot_db == "postgres":
            world._admin_sql(f'DROP DATABASE IF EXISTS "{bb_database}" WITH (FORCE)')
            world._admin_sql(f'CREATE DATABASE "{bb_database}"')
            bb_database_created = True
            db_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{bb_database}"
        bb = BuildbotWorld(world.tmp / "buildbot", venv_python, repo, args.slots, db_url)
        bb.create()
        bb.start()

        log(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        log(f"ours: PostgreSQL + Redis, worker -P threads -c {args.worker_concurrency}, executor-quota {args.slots}, "
            f"3 stages x 2 parallel `true` + implicit Clone stage = 7 steps")  # fmt: skip
        log(f"buildbot {BUILDBOT_VERSION}: {args.buildbot_db} master, {args.slots} workers (max_builds=1 each), "
            f"Git clobber+shallow + 6 sequential `true` = 7 steps, forced over REST")  # fmt: skip
        log(f"completion seen by polling every {args.poll * 1000:g} ms on both sides")
        lat = latency_run(ours, bb, args)
        results: dict[str, dict[str, object]] = {}
        for name, side in (("ours", ours), ("buildbot", bb)):
            results[name] = throughput_run(side, args.concurrent, args.poll, args.timeout)
            log(f"{name}: {args.concurrent} at once done in {results[name]['total']:.2f}s")
        load_end = os.getloadavg()

        print()
        print(summary("ours", lat["ours"]))
        print(summary("buildbot", lat["buildbot"]))
        for name in ("ours", "buildbot"):
            r = results[name]
            print(f"{name} throughput {r['n']} at once with {args.slots} slots: {r['total']:.2f}s "
                  f"pipelines/s={r['rate']:.2f} (triggering took {r['trigger_phase']:.2f}s)")  # fmt: skip
        rate_ratio = float(results["ours"]["rate"]) / float(results["buildbot"]["rate"])  # type: ignore[arg-type]
        print(f"throughput ratio ours/buildbot={rate_ratio:.2f}")
        counted = {
            "ours": "the Celery worker; PostgreSQL, Redis and the trigger call in this process not counted",
            "buildbot": f"the master + {args.slots} workers; "
            + ("SQLite runs inside the master" if args.buildbot_db == "sqlite" else "PostgreSQL not counted"),
        }
        for name, what in counted.items():
            own, children = lat[name]["cpu"]
            print(f"{name} cpu per pipeline={own * 1000:.0f}ms in the service processes ({what}), "
                  f"{children * 1000:.0f}ms in the step processes they ran")  # fmt: skip
        polls, per_poll = lat["buildbot"]["polls"]
        print(f"buildbot cpu answering the completion polls={polls * per_poll * 1000:.0f}ms per pipeline of the "
              f"above ({polls:.1f} polls x {per_poll * 1000:.1f}ms, price of a poll on the idle master)")  # fmt: skip
        print(f"machine: nproc {os.cpu_count()}, load average at the end {' '.join(f'{x:.2f}' for x in load_end)}")
        ours_med, bb_med = statistics.median(lat["ours"]["latency"]), statistics.median(lat["buildbot"]["latency"])
        print(f"ours median={ours_med:.3f} buildbot median={bb_med:.3f} ratio={bb_med / ours_med:.2f}")

        if args.plot_dir:
            data = {"buildbot_version": BUILDBOT_VERSION, "buildbot_db": args.buildbot_db, "slots": args.slots,
                    "poll": args.poll, "latency": {k: v["latency"] for k, v in lat.items()},
                    "throughput": results}  # fmt: skip
            plot(data, venv_python, Path(args.plot_dir))
    finally:
        if bb is not None:
            bb.stop()
        if bb_database_created and not args.keep:
            world._admin_sql(f'DROP DATABASE IF EXISTS "{bb_database}" WITH (FORCE)')
        world.teardown()
        if not args.keep:
            log(f"cleaned up: Buildbot master and workers stopped, database {args.database} dropped, "
                f"Redis {args.redis} flushed, temp dir removed")  # fmt: skip


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
