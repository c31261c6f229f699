#!/usr/bin/env python
"""Kubernetes executor figures, without a cluster (issue 3).

1. step→step handoff inside the pod: the runner script the pod runs, as local processes;
2. one sync tick at 10/100/1,000 running executions against the in-repo fake API server: API calls and
   time (goal: calls constant per namespace, 1,000 in <= 1 s);
3. cache-node hit rate over 100 executions of one pipeline on a 10-node simulated cluster with load
   noise, with and without the preferred node affinity (goal >= 90 % with).

Prints its figures; asserts nothing. Uses PostgreSQL (a database it creates and drops) like
bench/engine.py.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_util import REPO, log
from engine_world import World

# Run as a script, this file's folder leads sys.path, and its own name would shadow the `kubernetes`
# client package for everything imported later.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

PIPELINE = """
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig: {image: golang:1.22, shellScript: go build ./...}
        cache: {paths: [/root/.cache/go-build]}
      - name: vet
        runScriptConfig: {image: golang:1.22, shellScript: go vet ./...}
"""


def handoff(samples: int) -> list[float]:
    """Seconds from the end of stage 0's command to the start of stage 1's command."""
    from devops.executors.kubernetes.runner_script import RUNNER_SCRIPT

    results = []
    for _ in range(samples):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "markers").mkdir()
            script = root / "runner.sh"
            script.write_text(RUNNER_SCRIPT)
            procs = []
            for stage, wait, stamp in ((0, "-", "end"), (1, "0-0", "start")):
                env = {"PATH": "/usr/bin:/bin", "DEVOPS_RUNNER_ROOT": tmp,
                       "DEVOPS_TERMINATION_LOG": f"{tmp}/term-{stage}"}  # fmt: skip
                command = f"date +%s.%N > {tmp}/{stamp}"
                argv = ["sh", str(script), str(stage), "0", wait, "-", "--", "sh", "-c", command]
                procs.append(subprocess.Popen(argv, env=env))
            for proc in procs:
                proc.wait(timeout=30)
            results.append(float((root / "start").read_text()) - float((root / "end").read_text()))
    return results


def _serve(conn, nodes: int) -> None:
    """The fake API server in its own process (as a real one is), with a kubelet that binds each new pod
    round robin and starts its containers. Answers "url", "reset", "count", "pending" and "stop"."""
    import itertools
    import queue
    import threading

    from devops.testing.fake_kubernetes import kubelet
    from devops.testing.fake_kubernetes.server import FakeKubernetes

    server = FakeKubernetes().start()
    for i in range(nodes):
        kubelet.add_node(server.store, f"node-{i}")
    arrivals: queue.Queue = queue.Queue()
    server.store.subscribe(lambda e: e.type == "ADDED" and e.rt.kind == "Pod" and arrivals.put(e.obj))
    started = itertools.count(1)
    done = [0]

    def run_pods() -> None:
        while (pod := arrivals.get()) is not None:
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            kubelet.bind(server.store, ns, name, f"node-{next(started) % nodes}")
            for container in pod["spec"]["containers"]:
                kubelet.set_container_state(server.store, ns, name, container["name"], "running")
            done[0] += 1

    threading.Thread(target=run_pods, daemon=True).start()
    answers = {"url": lambda: server.url, "reset": server.reset_calls, "count": server.count,
               "pending": lambda: len(server.store.list("pods")) - done[0]}  # fmt: skip
    while (message := conn.recv()) != "stop":
        conn.send(answers[message]())
    server.stop()
    os._exit(0)  # the forked copy of Django's connections belongs to the parent


class RemoteCluster:
    """The parent's handle on the fake cluster process."""

    def __init__(self, nodes: int = 10):
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, nodes), daemon=True)
        self.proc.start()
        self.url = self.ask("url")

    def ask(self, message: str):
        self.conn.send(message)
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(timeout=10)


def kube_world(cluster: RemoteCluster, n: int, project_name: str):
    """A project on the fake cluster with ``n`` launched executions whose pods all run."""
    from devops import engine
    from devops.models import Cluster
    from devops.pipeline_config import parse_pipeline
    from devops.services import ensure_pipeline, ensure_project, set_project_setting
    from devops.testing.fake_kubernetes.server import kubeconfig_for

    kubeconfig = kubeconfig_for(cluster.url)
    record = Cluster.objects.create(name=f"{project_name}-cluster", kubeconfig=kubeconfig)
    project = ensure_project(project_name)
    project.cluster = record
    project.save()
    set_project_setting(project, "executor-quota", "0")
    pipeline, _ = ensure_pipeline(project, "app", str(REPO))
    spec = parse_pipeline(PIPELINE)
    for _ in range(n):
        execution = engine.create_execution(pipeline, spec, engine.TriggerInfo(branch="main", commit="c" * 40))
        engine.admit(project.pk)
        engine.start(execution.pk)
    while cluster.ask("pending"):
        time.sleep(0.05)
    return project


def _list_seconds(project) -> float:
    """How long the one list call of a tick takes on its own (the fake server is Python, not Go)."""
    from kubernetes import client

    from devops.executors.kubernetes import names
    from devops.executors.kubernetes.cluster import api_client

    core = client.CoreV1Api(api_client(project.cluster))
    selector = f"{names.LABEL_PROJECT}={names.label_value(project.name)}"
    times = []
    for _ in range(3):
        t = time.monotonic()
        namespace = names.namespace(project.name)
        response = core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)
        assert response.data  # read the whole body
        times.append(time.monotonic() - t)
    return statistics.median(times)


def sync_cost(sizes: list[int]) -> None:
    from devops.engine import maintenance

    for n in sizes:
        cluster = RemoteCluster()
        try:
            t = time.monotonic()
            project = kube_world(cluster, n, f"sync{n}")
            setup = time.monotonic() - t
            cluster.ask("reset")
            t = time.monotonic()
            maintenance.sync_clusters()  # first tick: every execution becomes Building
            first = time.monotonic() - t
            first_calls = cluster.ask("count")
            steady = []
            for _ in range(3):
                cluster.ask("reset")
                t = time.monotonic()
                maintenance.sync_clusters()
                steady.append(time.monotonic() - t)
            calls = cluster.ask("count")
            listing = _list_seconds(project)
            record = project.cluster
            project.delete()  # its executions go with it: the next size's ticks see only their own
            record.delete()
        finally:
            cluster.close()
        print(
            f"kubernetes sync tick n={n} api_calls={calls} time={statistics.median(steady):.3f}s "
            f"(of which the fake API server's list response {listing:.3f}s; "
            f"first tick {first:.3f}s, {first_calls} calls; set-up {setup:.1f}s) "
            f"(goal: calls constant per namespace, 1000 in <= 1s)",
            flush=True,
        )


def hit_rate(executions: int, with_affinity: bool, seed: int) -> tuple[float, float]:
    """(share landing on a node that already has this pipeline's cache, share on the newest such node)."""
    from devops.executors.kubernetes.executor import REMEMBERED_NODES
    from devops.executors.kubernetes.pod import PodIdentity, build_pod
    from devops.pipeline_config import parse_pipeline
    from devops.project_settings import SETTINGS
    from devops.testing.fake_kubernetes import kubelet
    from devops.testing.fake_kubernetes.scheduler import Scheduler
    from devops.testing.fake_kubernetes.store import Store

    store = Store()
    noise = random.Random(seed)
    nodes = [f"node-{i}" for i in range(10)]
    for node in nodes:
        kubelet.add_node(store, node)
    scheduler = Scheduler(store, seed=seed)
    settings = {key: d.default() for key, d in SETTINGS.items()}
    spec = parse_pipeline(PIPELINE)
    store.create("namespaces", {"metadata": {"name": "bench-pipeline"}})
    recent: list[str] = []
    warm: set[str] = set()
    hits = newest_hits = 0
    for run in range(1, executions + 1):
        # Other workloads come and go: every node's load is redrawn before each execution.
        scheduler.background_load = {node: noise.uniform(0.0, 0.7) for node in nodes}
        identity = PodIdentity("bench", "app", f"1-{run}", run, "https://git.example.com/app.git", "d" * 40)
        pod = build_pod(spec, identity, variables={}, settings=settings, recent_nodes=recent)
        if not with_affinity:
            pod["spec"].pop("affinity", None)
        store.create("pods", pod, "bench-pipeline")
        node = scheduler.schedule("bench-pipeline", identity.pod_name)
        hits += node in warm
        newest_hits += bool(recent) and node == recent[0]
        warm.add(node)
        recent = [node, *[n for n in recent if n != node]][:REMEMBERED_NODES]
        store.delete("pods", identity.pod_name, "bench-pipeline")
    return hits / executions, newest_hits / max(executions - 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--executions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="devops_bench_kubernetes")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.sqlite, args.trace = False, False

    world = World(args)
    try:
        world.environment()
        world.migrate()
        import django

        django.setup()
        times = handoff(args.samples)
        print(f"kubernetes handoff step->step median={statistics.median(times):.3f}s max={max(times):.3f}s "
              f"n={len(times)} (goal <= 0.2s)", flush=True)  # fmt: skip
        sync_cost([int(x) for x in args.sizes.split(",")])
        for affinity in (True, False):
            rates = [hit_rate(args.executions, affinity, args.seed + i) for i in range(3)]
            cache = statistics.median(r[0] for r in rates)
            newest = statistics.median(r[1] for r in rates)
            label = "with" if affinity else "without"
            print(f"kubernetes cache-node hit rate {label} affinity={cache:.0%} (on the newest node {newest:.0%}; "
                  f"{args.executions} executions, 10 nodes, load noise, median of 3 seeds) (goal >= 90% with)",
                  flush=True)  # fmt: skip
    finally:
        world.teardown()
    log("done")


if __name__ == "__main__":
    main()
