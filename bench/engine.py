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

# The parts live next to this script (``bench/`` is not a package): engine_world.py (database, broker, worker,
# repository, own process times), engine_measure.py (observing final states; latency and throughput runs),
# engine_report.py (breakdown from the rows' timestamps; the printed figures), engine_util.py (shared helpers).
# Run as a script, this file's directory is sys.path[0], so they import as top-level modules.

from __future__ import annotations

import argparse
import os
import sys
import threading

from engine_measure import Observer, measure_latency, measure_throughput
from engine_report import print_latency, print_own_times, print_throughput, print_trace
from engine_util import REPO, log
from engine_world import World, make_repo, own_process_times


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
        print_latency(latencies, parts, sessions, true_s, clone_s)

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
                world.log_worker_errors()
        print_throughput(results)
        print_own_times(true_s, clone_s)
    finally:
        world.teardown()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
