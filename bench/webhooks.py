#!/usr/bin/env python
"""Webhook intake benchmark: signed GitHub push deliveries against the running server.

The world (see ``engine_world.py``): a dedicated PostgreSQL database and Redis db 14, a real git
repository with ``--commits`` commits, one pipeline with push triggers on, the web app under
**gunicorn** on loopback (``--gunicorn-workers`` x ``--threads``), and a Celery worker on the
``hooks`` and ``engine`` queues that turns deliveries into executions. No runner consumes the
``runner`` queue: executions are created and admitted, not run — this measures the intake.

The client (this process, on the same 2 cores) sends ``--requests`` distinct signed deliveries
over ``--concurrency`` keep-alive connections, then replays ``--replays`` of them. By default the
worker starts once the load is over, so the latency figures are the intake's own (in production the
workers run elsewhere); ``--worker-during-load`` runs it on the same two cores meanwhile. Printed:

* requests/s (distinct deliveries / wall time), p50 and p99 latency (request sent -> answer read);
* answers by status (202 queued, 200 duplicate for the replays);
* executions created vs expected (one per distinct delivery), once the worker has processed all.

Prints figures; asserts nothing. ``python bench/webhooks.py --help`` for options.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_util import REPO, log, pct, run  # noqa: E402
from engine_world import World  # noqa: E402

sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--replays", type=int, default=300)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--commits", type=int, default=10)
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker-concurrency", type=int, default=4)
    p.add_argument("--database", default="devops_bench_hooks")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    p.add_argument("--process-timeout", type=float, default=600)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--worker-nice", type=int, default=10,
                   help="niceness of the worker (and the git it runs): the intake answers first, the builds catch up")
    p.add_argument(
        "--worker-during-load", action=argparse.BooleanOptionalAction, default=False,
        help="also run the worker (building executions from the deliveries) on the same cores while they arrive; "
        "by default it starts after the load, so the figures are the intake's own",
    )
    args = p.parse_args()
    args.sqlite, args.trace = False, False
    return args


def make_repo(path: Path, commits: int) -> list[str]:
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-C", str(path)]
    run(["git", "init", "-q", "-b", "main", str(path)])
    (path / ".devops.yml").write_text(
        "stages:\n  - name: build\n    steps:\n      - runScriptConfig: {image: busybox, shellScript: 'true'}\n"
    )
    shas = []
    for i in range(commits):
        (path / "n.txt").write_text(str(i))
        run([*git, "add", "-A"])
        run([*git, "commit", "-q", "-m", f"commit {i}"])
        shas.append(run([*git, "rev-parse", "HEAD"]).stdout.strip())
    return shas


def push_delivery(secret: str, repo_url: str, sha: str) -> tuple[dict[str, str], bytes]:
    """A GitHub ``push`` delivery as GitHub sends it (trimmed to the fields a CI reads)."""
    body = json.dumps({
        "ref": "refs/heads/main", "before": "0" * 40, "after": sha, "created": False, "deleted": False,
        "forced": False, "compare": f"{repo_url}/compare/{sha[:12]}",
        "repository": {"id": 1, "name": "bench", "full_name": "bench/bench", "clone_url": repo_url,
                       "default_branch": "main"},
        "pusher": {"name": "bench", "email": "bench@example.invalid"},
        "sender": {"login": "bench", "id": 1},
        "head_commit": {"id": sha, "message": "bench push", "timestamp": "2026-11-22T05:00:00Z",
                        "author": {"name": "bench", "email": "bench@example.invalid", "username": "bench"}},
        "commits": [{"id": sha, "message": "bench push", "distinct": True}],
    }).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature,
    }
    return headers, body


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU of the live processes in a process group (gunicorn's master and workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(args: argparse.Namespace, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}",
        "-w", str(args.gunicorn_workers), "-k", "gthread", "--threads", str(args.threads),
        "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/hooks/pipelines/0/")
            conn.getresponse().read()
            log(f"gunicorn pid {proc.pid} on :{port}: {' '.join(argv[3:])}")
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def send_all(port: int, path: str, deliveries: list[tuple[dict[str, str], bytes]], concurrency: int):
    """Send every delivery once over ``concurrency`` keep-alive connections; (latencies, statuses, wall)."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    cursor = iter(range(len(deliveries)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        codes: Counter[int] = Counter()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            headers, body = deliveries[i]
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                codes[0] += 1
                continue
            mine.append(time.perf_counter() - t)
            codes[response.status] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def start_worker(world: World, nice: int) -> None:
    world.start_worker()
    assert world.worker is not None
    os.setpriority(os.PRIO_PGRP, world.worker.pid, nice)  # its own group: the worker and its children


def main() -> None:
    args = parse_args()
    world = World(args)
    world.queues = "hooks,engine"
    gunicorn = None
    try:
        world.environment()
        os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        world.migrate()
        import django

        django.setup()
        from devops.models import Pipeline, PipelineExecution, Project, WebhookDelivery

        repo = world.tmp / "repo"
        shas = make_repo(repo, args.commits)
        project = Project.objects.create(name="bench-hooks")
        pipeline = Pipeline.objects.create(project=project, name="hooks", repository_url=str(repo), provider="github")
        if args.worker_during_load:
            start_worker(world, args.worker_nice)
        gunicorn = start_gunicorn(args, free_port(), world.tmp / "gunicorn.log")
        port = int(gunicorn.args[5].rsplit(":", 1)[1])
        path = f"/hooks/pipelines/{pipeline.pk}/"

        secret = pipeline.webhook_secret
        deliveries = [push_delivery(secret, str(repo), shas[i % len(shas)]) for i in range(args.requests)]
        # Every gunicorn thread imports, connects to PostgreSQL and Redis on its first requests.
        warm = [push_delivery(pipeline.webhook_secret, str(repo), shas[0]) for _ in range(args.warmup)]
        send_all(port, path, warm, args.concurrency)
        server_cpu, client_cpu = group_cpu_seconds(gunicorn.pid), time.process_time()
        latencies, statuses, wall = send_all(port, path, deliveries, args.concurrency)
        server_cpu = group_cpu_seconds(gunicorn.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        replays = deliveries[: args.replays]
        _, replay_statuses, _ = send_all(port, path, replays, args.concurrency)

        if not args.worker_during_load:
            start_worker(world, args.worker_nice)
        expected = len(warm) + statuses[202]
        deadline = time.monotonic() + args.process_timeout
        while time.monotonic() < deadline:
            if not WebhookDelivery.objects.filter(outcome="queued").exists():
                break
            time.sleep(0.5)
        processed_in = args.process_timeout - (deadline - time.monotonic())
        created = PipelineExecution.objects.filter(pipeline=pipeline).count()
        outcomes = Counter(WebhookDelivery.objects.values_list("outcome", flat=True))
        per_delivery = Counter(
            WebhookDelivery.objects.exclude(execution=None).values_list("execution_id", flat=True)
        ).most_common(1)

        print(f"webhooks: requests={len(latencies)} wall={wall:.2f}s rate={len(latencies) / wall:.0f} req/s "
              f"p50={pct(latencies, 0.5) * 1000:.1f}ms p90={pct(latencies, 0.9) * 1000:.1f}ms "
              f"p99={pct(latencies, 0.99) * 1000:.1f}ms "
              f"max={max(latencies) * 1000:.1f}ms concurrency={args.concurrency} "
              f"worker_during_load={args.worker_during_load} worker_nice={args.worker_nice}")
        print(f"webhooks: answers {dict(statuses)}; replays answered {dict(replay_statuses)}; CPU per request: "
              f"server {server_cpu / len(latencies) * 1000:.2f}ms client {client_cpu / len(latencies) * 1000:.2f}ms")
        print(f"webhooks: executions created={created} expected={expected} "
              f"(lost={max(0, expected - created)} duplicated={max(0, created - expected)}); "
              f"deliveries {dict(outcomes)} processed within {processed_in:.0f}s; "
              f"max executions per delivery={per_delivery[0][1] if per_delivery else 0}")
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, 15)
            gunicorn.wait(timeout=15)
        world.teardown()


if __name__ == "__main__":
    main()
