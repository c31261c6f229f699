"""Pipelines end to end through the Kubernetes executor, on the fake cluster whose kubelet really runs
every container's command (runner script included) as local processes.

In-process: ``engine.start`` creates the pod, the periodic ``sync_clusters`` (called here every 0.1 s)
reads it back, stores the logs and deletes the pod. The clone step fetches from a local repository.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from devops import engine
from devops.engine import maintenance
from devops.executors.kubernetes import names
from devops.logs import get_log_store
from devops.models import Cluster, PipelineExecution, StepRun
from devops.pipeline_config import parse_pipeline
from devops.states import FINAL_STATES, State
from devops.testing.fake_kubernetes.process_kubelet import ProcessKubelet
from devops.testing.fake_kubernetes.server import FakeKubernetes

pytestmark = pytest.mark.django_db
SAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "sample-app"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SimpleNamespace]:
    with FakeKubernetes() as server:
        kubelet = ProcessKubelet(server, "node-1", tmp_path / "kubelet").start()
        try:
            record = Cluster.objects.create(name="fake", kubeconfig=server.kubeconfig())
            yield SimpleNamespace(server=server, kubelet=kubelet, record=record)
        finally:
            kubelet.stop()


@pytest.fixture
def k8s_pipeline(make_pipeline, cluster) -> Callable[..., object]:
    """``k8s_pipeline(repo)``: a pipeline in a fresh project bound to the fake cluster."""

    def make(repo, **kwargs):
        pipeline = make_pipeline(repo, **kwargs)
        pipeline.project.cluster = cluster.record
        pipeline.project.save()
        return pipeline

    return make


def launch(pipeline, repo, pipeline_yaml: str) -> PipelineExecution:
    """Create, admit and start one execution of ``pipeline_yaml`` at the repository's head."""
    execution = engine.create_execution(
        pipeline, parse_pipeline(pipeline_yaml), engine.TriggerInfo(branch="main", commit=repo.head())
    )
    engine.admit(pipeline.project_id)
    assert engine.start(execution.pk), PipelineExecution.objects.get(pk=execution.pk).reason
    return PipelineExecution.objects.get(pk=execution.pk)


def sync_until(predicate: Callable[[], object], timeout: float, message: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        maintenance.sync_clusters()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(0.1)


def run_to_end(execution_id: int, h, timeout: float = 30) -> PipelineExecution:
    def final():
        row = PipelineExecution.objects.get(pk=execution_id)
        return row if row.state in FINAL_STATES else None

    try:
        return sync_until(final, timeout, "execution not final")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{h.describe(execution_id)}") from None


def stored(step: StepRun) -> str:
    assert step.log_key, f"step {step.name} has no log"
    return get_log_store().read(step.log_key).decode()


def pod_exists(cluster, execution: PipelineExecution) -> bool:
    ns = names.namespace(execution.project.name)
    return cluster.server.store.exists("pods", names.pod_name(execution.pipeline.name, execution.run), ns)


PARALLEL = """
stages:
  - name: Prepare
    steps:
      - name: prepare
        runScriptConfig: {image: alpine:3.20, shellScript: "echo ready > /workspace/prep.txt && echo prepared"}
  - name: Build
    steps:
      - name: left
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            touch left.started  # each of the two waits for the other: they run at the same time
            for i in $(seq 100); do [ -f right.started ] && break; sleep 0.05; done; [ -f right.started ]
            echo "left:$(cat prep.txt):$GREETING" > left.txt
            echo "left wrote $(cat left.txt) in $PWD" | sed "s|$PWD|WS|"
        env: {GREETING: "hello $$ ${CICD_EXECUTION_SEQUENCE}"}
      - name: right
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            touch right.started
            for i in $(seq 100); do [ -f left.started ] && break; sleep 0.05; done; [ -f left.started ]
            echo right:$(cat prep.txt) > right.txt; echo right wrote >&2
  - name: Check
    steps:
      - name: check
        runScriptConfig: {image: alpine:3.20, shellScript: "cat left.txt right.txt README.md"}
"""


def test_parallel_pipeline_succeeds_with_logs_and_pod_deleted(k8s_pipeline, make_repo, cluster, h):
    repo = make_repo(files={"README.md": "from the repository\n"})
    pipeline = k8s_pipeline(repo)
    execution = launch(pipeline, repo, PARALLEL)
    done = run_to_end(execution.pk, h)
    assert done.state == State.SUCCESS, h.describe(execution.pk)
    assert done.node == "node-1"
    steps = h.steps_of(execution.pk)
    assert {name: s.state for name, s in steps.items()} == dict.fromkeys(steps, State.SUCCESS)
    assert stored(steps["clone"]).startswith("checked out "), steps
    assert stored(steps["prepare"]) == "prepared\n"
    assert stored(steps["left"]) == f"left wrote left:ready:hello $$ {execution.run} in WS\n"
    assert stored(steps["right"]) == "right wrote\n"
    assert stored(steps["check"]) == (f"left:ready:hello $$ {execution.run}\nright:ready\nfrom the repository\n")
    sync_until(lambda: not pod_exists(cluster, execution), 5, "pod not deleted")


FAILING = """
stages:
  - name: Test
    steps:
      - name: broken
        runScriptConfig: {image: alpine:3.20, shellScript: "echo about to fail; sleep 0.5; exit 3"}
      - name: slow
        runScriptConfig: {image: alpine:3.20, shellScript: "echo $$ > {pids}/slow; echo slow started; sleep 300"}
  - name: Deploy
    steps:
      - name: never
        runScriptConfig: {image: alpine:3.20, shellScript: "echo should not run"}
"""


def test_failing_step_fails_execution_stops_sibling_and_skips_later(k8s_pipeline, make_repo, cluster, h, tmp_path):
    repo = make_repo()
    pipeline = k8s_pipeline(repo)
    execution = launch(pipeline, repo, FAILING.replace("{pids}", str(tmp_path)))
    done = run_to_end(execution.pk, h)
    assert done.state == State.FAILED, h.describe(execution.pk)
    steps = h.steps_of(execution.pk)
    assert steps["broken"].state == State.FAILED and steps["broken"].exit_code == 3
    assert stored(steps["broken"]) == "about to fail\n"
    assert steps["slow"].state in (State.ABORTED, State.FAILED), h.describe(execution.pk)
    assert steps["never"].state == State.SKIPPED
    slow_pid = int((tmp_path / "slow").read_text())
    h.wait_until(lambda: not h.proc_alive(slow_pid), 5, "the running sibling was not stopped")
    sync_until(lambda: not pod_exists(cluster, execution), 5, "pod not deleted")


LONG = """
stages:
  - name: Test
    steps:
      - name: forever
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            echo $$ > {pids}/main
            sleep 300 &
            echo $! > {pids}/child
            echo waiting
            wait
"""


def test_abort_deletes_pod_and_kills_processes_keeping_logs(
    k8s_pipeline, make_repo, cluster, h, tmp_path, django_capture_on_commit_callbacks
):
    repo = make_repo()
    pipeline = k8s_pipeline(repo)
    execution = launch(pipeline, repo, LONG.replace("{pids}", str(tmp_path)))
    sync_until(lambda: (tmp_path / "child").exists() and h.steps_of(execution.pk)["forever"].state == State.BUILDING,
               20, "step never started")  # fmt: skip
    pids = [int((tmp_path / name).read_text()) for name in ("main", "child")]
    assert all(h.proc_alive(pid) for pid in pids)
    ns, pod = names.namespace(pipeline.project.name), names.pod_name(pipeline.name, execution.run)
    groups = {g for r in cluster.kubelet.runners.values() for c in r.containers if c.tree for g in c.tree.groups}
    h.wait_until(lambda: "waiting" in (cluster.server.store.log_text(ns, pod, names.container_name(1, 0)) or ""),
                 5, "no output yet")  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert engine.abort(execution.pk, "aborted by user")
    assert not cluster.server.store.exists("pods", pod, ns)
    h.wait_until(lambda: not any(h.proc_alive(pid) for pid in pids), 5, "step processes survived the pod")
    h.wait_until(lambda: all(h.group_gone(g) for g in groups), 5, "process groups survived the pod")
    assert PipelineExecution.objects.get(pk=execution.pk).state == State.ABORTED
    assert stored(h.steps_of(execution.pk)["forever"]) == "waiting\n"


CACHED = """
stages:
  - name: Build
    steps:
      - name: build
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            if [ -f .cache/data/stamp ]; then echo "cache hit: $(cat .cache/data/stamp)"; else echo "cache miss"; fi
            echo "run $CICD_EXECUTION_SEQUENCE" > .cache/data/stamp
            echo x >> ~/.toolcache/runs; echo "home cache: $(wc -l < $HOME/.toolcache/runs)"
        cache:
          paths: [.cache/data, ~/.toolcache]
"""


def test_cache_written_in_one_run_is_seen_by_the_next(k8s_pipeline, make_repo, cluster, h):
    repo = make_repo()
    pipeline = k8s_pipeline(repo)
    logs = []
    for _ in range(2):
        execution = launch(pipeline, repo, CACHED)
        assert run_to_end(execution.pk, h).state == State.SUCCESS, h.describe(execution.pk)
        logs.append(stored(h.steps_of(execution.pk)["build"]))
        sync_until(lambda execution=execution: not pod_exists(cluster, execution), 5, "pod not deleted")
    assert logs[0] == "cache miss\nhome cache: 1\n"
    assert logs[1] == f"cache hit: run {execution.run - 1}\nhome cache: 2\n"


LOCKED = """
stages:
  - name: Build
    steps:
      - name: build
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            echo "start $CICD_EXECUTION_SEQUENCE" >> deps/journal
            sleep 1.5
            echo "end $CICD_EXECUTION_SEQUENCE" >> deps/journal
            cat deps/journal
        cache:
          paths: [deps]
"""


def test_two_executions_on_one_node_take_turns_with_the_cache(k8s_pipeline, make_repo, cluster, h):
    """The cache keeper's lock: the second build starts writing only after the first one ended."""
    repo = make_repo()
    pipeline = k8s_pipeline(repo, quota=0)
    first, second = launch(pipeline, repo, LOCKED), launch(pipeline, repo, LOCKED)
    done = [run_to_end(first.pk, h), run_to_end(second.pk, h)]
    assert [e.state for e in done] == [State.SUCCESS] * 2, [h.describe(e.pk) for e in done]
    last = max(done, key=lambda e: h.steps_of(e.pk)["build"].ended_at)
    journal = stored(h.steps_of(last.pk)["build"])  # the later build printed the whole journal
    waited = "[devops] waiting for the cache"
    lines = [line for line in journal.splitlines() if not line.startswith(waited)]
    # Whichever ran first, its start and end are never interleaved with the other's.
    a, b = sorted((first.run, second.run), key=lambda run: lines.index(f"start {run}"))
    assert lines == [f"start {a}", f"end {a}", f"start {b}", f"end {b}"], journal


@pytest.mark.skipif(not shutil.which("cc") or not shutil.which("make"), reason="needs a C compiler and make")
def test_sample_app_end_to_end(k8s_pipeline, make_repo, cluster, h, tmp_path):
    source = tmp_path / "sample"
    shutil.copytree(SAMPLE_APP, source, ignore=shutil.ignore_patterns("build", "dist", ".cache"))
    h.git(source, "init", "-q", "-b", "main")
    h.git(source, "add", "-A")
    h.git(source, "commit", "-q", "-m", "sample app")
    repo = SimpleNamespace(head=lambda: h.git(source, "rev-parse", "HEAD"))
    pipeline = k8s_pipeline(str(source))
    spec = (source / ".devops.yml").read_text()
    execution = launch(pipeline, repo, spec)
    done = run_to_end(execution.pk, h, timeout=60)
    assert done.state == State.SUCCESS, h.describe(execution.pk)
    steps = StepRun.objects.filter(execution=execution).order_by("stage_index", "index")
    assert [s.state for s in steps] == [State.SUCCESS] * len(steps)
    package = stored(list(steps)[-1])
    assert package.endswith(f"  qcalc-{repo.head()[:7]}.tar.gz\n"), package
