#!/usr/bin/env python
"""Logs at volume: one step writes 100 MB; is the stored log exact, does the worker stay small, does a
follower keep up?

The world (``engine_world.World``): a dedicated PostgreSQL database (``devops_bench_logs``, created and
dropped), Redis db 11 as the broker, a real Celery worker subprocess (``-P threads``: the local runner
runs inside the worker process), and the API under **gunicorn** on loopback (``webhooks.start_gunicorn``,
2 workers x 4 threads, ``gthread``). The project has a secret, so every byte goes through the masker.

The step (``bench/logs_gen.py``, copied into the sample repository as ``gen.py``) writes ``--bytes``
(100,000,000) of base64 lines of random data as fast as the pipe takes them, then idles; a timestamped
``MARK`` line about every 0.1 s during the flood and 50 more, 0.1 s apart, after it. It tees every byte
to a file outside the workspace. Meanwhile:

* a follower reads the API's event stream ``GET /api/v1/executions/<id>/logs/1/0/?follow=1`` (token
  auth, one connection opened right after the trigger) and times each marker: written -> read;
* a sampler reads the RSS of the worker process, of its process tree (the step's processes included)
  and of gunicorn's processes every 50 ms from /proc.

Figures, for each live buffer in ``--live-logs`` (``filesystem``, the embedded default, and ``redis``):

1. the stored log vs what the step wrote: sizes and sha256 (also of what the follower received);
2. memory: max RSS from the trigger to the final state minus the baseline (mean over the second before
   the trigger, after a warm-up execution), for the worker process (the goal) and its whole tree;
3. the follower's delay per marker: p50 / p99 / max, during the flood and when idle;
4. throughput: how long the flood took and how far behind the follower was at its end.

Prints figures; asserts nothing. Writes ``var/bench/logs_volume.json`` and, unless ``--no-plot``,
``docs/plots/logs_volume.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cache_util import BENCH_VAR, PLOTS, cpu_seconds, failure_details, load_average, plot, process_tree, wait_final  # noqa: E402
from engine_util import REPO, log, pct, run  # noqa: E402
from engine_world import World  # noqa: E402
from logs_follow import Follower, MemorySampler  # noqa: E402
from webhooks import free_port, start_gunicorn  # noqa: E402

sys.path.insert(0, str(REPO))

MB = 1e6
PIPELINE_FILE = """\
stages:
  - name: volume
    steps:
      - runScriptConfig: {image: "python:3.11", shellScript: "python3 gen.py"}
        timeout: 15
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bytes", type=int, default=100_000_000, help="filler the step writes (default 100,000,000)")
    p.add_argument("--rate", type=float, default=0, help="MB/s the step writes at (default 0: as fast as it can)")
    p.add_argument("--mark-every", type=float, default=0.1, help="seconds between marker lines (default 0.1)")
    p.add_argument("--idle-marks", type=int, default=50, help="markers after the flood (default 50)")
    p.add_argument("--idle-after", type=float, default=2, help="pause before the idle markers (default 2 s)")
    p.add_argument("--live-logs", default="filesystem,redis", help="live buffers to measure (default both)")
    p.add_argument("--live-redis", default="redis://127.0.0.1:6379/10", help="LIVE_LOG for the redis variant")
    p.add_argument("--gunicorn-workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--worker-concurrency", type=int, default=4)
    p.add_argument("--database", default="devops_bench_logs")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="the broker")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    args.sqlite, args.trace = False, False
    return args


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / ".devops.yml").write_text(PIPELINE_FILE)
    shutil.copy(REPO / "bench" / "logs_gen.py", path / "gen.py")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-C", str(path)]
    run(["git", "init", "-q", "-b", "main", str(path)])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "-m", "bench: a step writing 100 MB"])
    return path


def sha256_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def sha256_stored(key: str) -> tuple[int, str]:
    """The stored log read back through the store's own range reads, 1 MiB at a time."""
    from devops.logs import get_log_store

    store, digest, offset = get_log_store(), hashlib.sha256(), 0
    while block := store.read(key, offset, 1 << 20):
        digest.update(block)
        offset += len(block)
    return offset, digest.hexdigest()


def stop_gunicorn(proc: Any) -> None:
    """Quick shutdown (SIGQUIT): a follower still connected must not hold it for the graceful timeout."""
    os.killpg(proc.pid, signal.SIGQUIT)  # its own process group (start_new_session), nothing else
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def live_size(variant: str, args: argparse.Namespace, key: str) -> int | None:
    """The live copy's size after the step (None: discarded, as it should be)."""
    from django.conf import settings

    from devops.logs import FilesystemLiveLog, RedisLiveLog

    if variant == "filesystem":
        return FilesystemLiveLog(settings.LOG_SPOOL_DIR).size(key)
    return RedisLiveLog(args.live_redis, 60).size(key)


def one_run(pipeline: Any, port: int, token: str, env: dict[str, str], sampler_pids: dict, timeout: float) -> dict:
    """Trigger, follow, sample, wait; the raw observations of one execution."""
    from devops.triggers import trigger_pipeline

    sampler = MemorySampler(sampler_pids)
    sampler.start()
    time.sleep(1.0)
    cpu_before = {name: cpu_seconds(process_tree(pid) if tree else [pid]) for name, (pid, tree) in sampler_pids.items()}
    t_trigger = time.time()
    execution = trigger_pipeline(pipeline, extra_env=env)
    follower = Follower(port, f"/api/v1/executions/{execution.pk}/logs/1/0/?follow=1", token)
    follower.start()
    execution = wait_final(execution.pk, timeout, poll=0.1)
    t_final = time.time()
    follower.join(timeout=120)
    cpu = {name: cpu_seconds(process_tree(pid) if tree else [pid]) - cpu_before[name]
           for name, (pid, tree) in sampler_pids.items() if name != "worker tree"}  # fmt: skip
    cpu["follower"] = follower.result.cpu_seconds
    time.sleep(0.3)
    sampler.stop()
    if execution.state != "Success":
        raise SystemExit(failure_details(execution))
    step = execution.steps.get(stage_index=1, index=0)
    return {"execution": execution, "step": step, "follower": follower.result, "sampler": sampler,
            "t_trigger": t_trigger, "t_final": t_final, "cpu": cpu}  # fmt: skip


def measure(variant: str, world: World, args: argparse.Namespace, pipeline: Any, token: str) -> dict[str, Any]:
    os.environ["LIVE_LOG"] = variant if variant == "filesystem" else args.live_redis
    world.stop_worker()
    world.start_worker()
    assert world.worker is not None
    gunicorn = start_gunicorn(args, free_port(), world.tmp / f"gunicorn-{variant}.log")
    port = int(gunicorn.args[5].rsplit(":", 1)[1])
    watch = {"worker": (world.worker.pid, False), "worker tree": (world.worker.pid, True),
             "gunicorn": (gunicorn.pid, True)}  # fmt: skip
    tee = world.tmp / f"step-output-{variant}.log"
    env = {"TEE_PATH": str(tee), "MARK_EVERY": str(args.mark_every), "LOG_RATE": str(args.rate * MB),
           "IDLE_MARKS": str(args.idle_marks), "IDLE_AFTER": str(args.idle_after)}  # fmt: skip
    try:
        # Warm-up: the worker and gunicorn's threads import, connect and allocate before the baseline.
        warm_up = {**env, "LOG_BYTES": "2000000", "IDLE_MARKS": "2", "IDLE_AFTER": "0"}
        one_run(pipeline, port, token, warm_up, watch, 120)
        log(f"[{variant}] warm-up done; load average {load_average()}")
        r = one_run(pipeline, port, token, {**env, "LOG_BYTES": str(args.bytes)}, watch, args.timeout)
    finally:
        stop_gunicorn(gunicorn)
    step, follower, sampler = r["step"], r["follower"], r["sampler"]
    step_size, step_sha = sha256_file(tee)
    stored_size, stored_sha = sha256_stored(step.log_key)
    live_left = live_size(variant, args, step.log_key)
    memory = {}
    for name in watch:
        base = sampler.between(name, r["t_trigger"] - 1.0, r["t_trigger"])
        during = sampler.between(name, r["t_trigger"], r["t_final"])
        memory[name] = {
            "baseline": statistics.mean(base),
            "max": max(during),
            "growth": max(during) - statistics.mean(base),
        }
    marks = follower.marks
    by_phase: dict[str, list[float]] = {"flood": [], "idle": []}
    for m in marks:
        by_phase["idle" if m.phase == "idle" else "flood"].append(m.delay)
    first = next((m for m in marks if m.phase == "start"), None)
    flooded = next((m for m in marks if m.phase == "flooded"), None)
    result = {
        "variant": variant,
        "load": load_average(),
        "step_bytes": step_size, "step_sha256": step_sha,
        "stored_bytes": stored_size, "stored_sha256": stored_sha,
        "follower_bytes": follower.bytes, "follower_sha256": follower.sha256,
        "follower_error": follower.error, "follower_end": follower.end, "follower_status": follower.status,
        "live_copy_left": live_left,
        "memory": memory,
        "delays": by_phase,
        "marks_seen": len(marks),
        "cpu": r["cpu"],
        "flood_seconds": (flooded.written - first.written) if first and flooded else None,
        "flood_behind": flooded.delay if flooded else None,
        "step_seconds": (step.ended_at - step.started_at).total_seconds(),
        "series": {name: [(t - r["t_trigger"], rss) for t, rss in sampler.samples[name]] for name in watch},
        "marks": [(m.phase, m.written - r["t_trigger"], m.delay) for m in marks],
        "step_window": ((step.started_at.timestamp() - r["t_trigger"]), (step.ended_at.timestamp() - r["t_trigger"])),
    }  # fmt: skip
    tee.unlink()
    return result


def summarize(r: dict[str, Any], args: argparse.Namespace) -> None:
    v = f"logs[{r['variant']}]"
    same = r["step_sha256"] == r["stored_sha256"] and r["step_bytes"] == r["stored_bytes"]
    follower_same = r["follower_sha256"] == r["step_sha256"]
    print(f"{v}: stored log identical={'yes' if same else 'NO'} "
          f"step={r['step_bytes']:,} B stored={r['stored_bytes']:,} B "
          f"sha256 {r['step_sha256'][:16]}/{r['stored_sha256'][:16]}; follower received {r['follower_bytes']:,} B "
          f"identical={'yes' if follower_same else 'NO'} goal: identical")  # fmt: skip
    w, t, g = r["memory"]["worker"], r["memory"]["worker tree"], r["memory"]["gunicorn"]
    print(f"{v}: worker RSS growth={w['growth'] / MB:.1f} MB "
          f"(baseline {w['baseline'] / MB:.1f}, max {w['max'] / MB:.1f}) "
          f"goal<=64 MB; worker tree incl. the step's processes (PSS) +{t['growth'] / MB:.1f} MB; "
          f"gunicorn, the follower's server (PSS) +{g['growth'] / MB:.1f} MB")  # fmt: skip
    for phase in ("flood", "idle"):
        d = r["delays"][phase]
        if d:
            print(f"{v}: follower delay ({phase}, {len(d)} marks) p50={pct(d, 0.5):.3f}s p99={pct(d, 0.99):.3f}s "
                  f"max={max(d):.3f}s goal<=1s")  # fmt: skip
    if r["flood_seconds"]:
        print(f"{v}: flood {args.bytes / MB:.0f} MB in {r['flood_seconds']:.2f}s "
              f"({args.bytes / MB / r['flood_seconds']:.0f} MB/s through the pipe, masker and live buffer); "
              f"the follower was {r['flood_behind']:.2f}s behind at its end; "
              f"step {r['step_seconds']:.2f}s")  # fmt: skip
    c = r["cpu"]
    print(f"{v}: CPU from trigger to final: worker (runner) {c['worker']:.2f}s, gunicorn (SSE server) "
          f"{c['gunicorn']:.2f}s, follower client {c['follower']:.2f}s; load average {r['load']}")  # fmt: skip
    if r["follower_error"]:
        print(f"{v}: follower error: {r['follower_error']}")


def main() -> None:
    args = parse_args()
    os.chdir(REPO)
    world = World(args)
    world.queues = "engine,runner"
    results = []
    try:
        world.environment()
        os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        world.migrate()
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from devops.services import create_secret, ensure_pipeline, ensure_project, set_project_setting

        user = get_user_model().objects.create_user("bench", is_staff=True)
        token = Token.objects.create(user=user).key
        project = ensure_project("bench-logs")
        set_project_setting(project, "executor-quota", "0")
        # Masked everywhere; never in this output (base64 has no "-" or "!"), so the log stays identical.
        create_secret(project, name="bench-secret", data={"TOKEN": "not-in-the-output-!"})
        pipeline, _ = ensure_pipeline(project, "volume", str(make_repo(world.tmp / "repo")))
        log(f"load average at start: {load_average()}; {os.cpu_count()} CPUs")
        for variant in args.live_logs.split(","):
            results.append(measure(variant, world, args, pipeline, token))
            log(f"[{variant}] done; load average {load_average()}")
        for r in results:
            summarize(r, args)
    except SystemExit:
        world.log_worker_errors()  # an execution that never ended: what the worker said
        raise
    finally:
        world.teardown()
        if "redis" in args.live_logs.split(","):
            import redis

            live = redis.Redis.from_url(args.live_redis)
            for key in live.scan_iter("devops:livelog:bench-logs/*"):  # only left by a run that broke
                live.delete(key)
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    data = BENCH_VAR / "logs_volume.json"
    data.write_text(json.dumps(results, indent=1, default=str))
    if not args.no_plot and results:
        plot("logs_plot.py", data, PLOTS / "logs_volume.png")


if __name__ == "__main__":
    main()
