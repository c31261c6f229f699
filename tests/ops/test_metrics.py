"""/metrics: real executions on the real worker, real webhook requests, real Kubernetes API answers
(the in-repo fake API server over HTTP), and several processes adding up in multiprocess mode."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import textwrap
import uuid
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

SLOW = """
stages:
  - name: Build
    steps:
      - name: work
        runScriptConfig:
          image: alpine
          shellScript: sleep 2
"""


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from /metrics."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _github_ping(client, pipeline, *, secret: str) -> int:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/hooks/pipelines/{pipeline.pk}/",
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="ping",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    return response.status_code


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_metrics_after_real_executions_and_webhooks(worker, client, make_repo, make_pipeline, trigger, h):
    """Quota 1 and two triggers: while the first runs, its project shows 1 running and 1 queued;
    afterwards both are Success and their durations (about 2 s each) are in the histograms."""
    pipeline = make_pipeline(make_repo(SLOW), quota=1)
    project = pipeline.project.name
    before = scrape(client)
    first = trigger(pipeline, branch="main")
    second = trigger(pipeline, branch="main")

    def busy():
        samples = scrape(client)
        running = value(samples, "devops_project_running", project=project)
        queued = value(samples, "devops_project_queue_depth", project=project)
        return samples if (running, queued) == (1.0, 1.0) else None

    samples = h.wait_until(busy, 20, "never saw 1 running and 1 queued")
    assert value(samples, "devops_executions", state="Queueing") >= 1
    assert value(samples, "devops_database_up") == 1.0

    for execution in (first, second):
        assert h.wait_final(execution.pk, timeout=60).state == "Success", h.describe(execution.pk)

    # The intake: one verified ping (200) and one bad signature (401), both from GitHub.
    assert _github_ping(client, pipeline, secret=pipeline.webhook_secret) == 200
    assert _github_ping(client, pipeline, secret="not-the-secret") == 401

    after = scrape(client)
    assert value(after, "devops_project_running", project=project) == 0.0
    assert value(after, "devops_project_queue_depth", project=project) == 0.0
    assert value(after, "devops_executions", state="Success") >= 2
    assert value(after, "devops_executions", state="Building") is not None  # every state has a series
    count = value(after, "devops_execution_duration_seconds_count", state="Success")
    assert count is not None and count >= 2
    assert value(after, "devops_execution_duration_seconds_sum", state="Success") >= 4.0
    assert value(after, "devops_execution_duration_seconds_bucket", state="Success", le="+Inf") == count
    assert value(after, "devops_execution_duration_seconds_bucket", state="Success", le="1.0") is None  # no such bound
    assert value(after, "devops_execution_duration_seconds_bucket", state="Success", le="5.0") >= 2
    steps = {k: v for k, v in after.items() if k[0] == "devops_step_duration_seconds_count"}
    assert sum(v for (_, labels), v in steps.items() if ("state", "Success") in labels) >= 2
    step_sum = sum(v for (name, labels), v in after.items()
                   if name == "devops_step_duration_seconds_sum" and ("state", "Success") in labels)  # fmt: skip
    assert step_sum >= 4.0
    assert value(after, "devops_metrics_window_seconds") == 3600.0

    for status in ("200", "401"):
        grown = value(after, "devops_webhook_deliveries_total", provider="github", status=status) or 0
        assert grown - (value(before, "devops_webhook_deliveries_total", provider="github", status=status) or 0) == 1
    latency = value(after, "devops_webhook_intake_seconds_count", provider="github") or 0
    assert latency - (value(before, "devops_webhook_intake_seconds_count", provider="github") or 0) == 2
    # Described even before the first error (its values: the Kubernetes test below).
    assert b"# TYPE devops_executor_api_errors_total counter" in client.get("/metrics").content


@pytest.mark.django_db
def test_the_histograms_keep_only_the_window(client, settings, make_repo, make_pipeline):
    """Rows that ended before the window are left out; the window is a setting."""
    from datetime import timedelta

    from django.utils import timezone

    from devops import engine
    from devops.models import PipelineExecution
    from devops.pipeline_config import parse_pipeline

    pipeline = make_pipeline("https://git.example.com/team/app.git")
    now = timezone.now()
    for ended_ago in (10, 7200):
        execution = engine.create_execution(pipeline, parse_pipeline(SLOW), engine.TriggerInfo(branch="main"))
        ended = now - timedelta(seconds=ended_ago)
        PipelineExecution.objects.filter(pk=execution.pk).update(
            state="Failed", started_at=ended - timedelta(seconds=30), ended_at=ended
        )
    samples = scrape(client)
    assert value(samples, "devops_execution_duration_seconds_count", state="Failed") == 1
    assert value(samples, "devops_execution_duration_seconds_sum", state="Failed") == pytest.approx(30, abs=0.01)
    assert value(samples, "devops_execution_duration_seconds_bucket", state="Failed", le="10.0") == 0
    assert value(samples, "devops_execution_duration_seconds_bucket", state="Failed", le="30.0") == 1
    settings.METRICS_WINDOW_SECONDS = 3 * 3600
    samples = scrape(client)
    assert value(samples, "devops_execution_duration_seconds_count", state="Failed") == 2
    assert value(samples, "devops_metrics_window_seconds") == 3 * 3600


@pytest.mark.django_db
def test_executor_api_errors_are_counted_where_the_executor_catches_them(client):
    """A repeated start finds its pod: the fake API server answers the second create with 409, which
    the executor catches (and counts); a pod that is gone answers 404 on read."""
    from devops import engine
    from devops.executors.kubernetes import names
    from devops.executors.kubernetes.executor import KubernetesExecutor
    from devops.models import Cluster
    from devops.pipeline_config import parse_pipeline
    from devops.services import ensure_pipeline, ensure_project
    from devops.testing.fake_kubernetes.server import FakeKubernetes

    before = scrape(client)
    with FakeKubernetes() as server:
        project = ensure_project(f"kube-{uuid.uuid4().hex[:8]}")
        project.cluster = Cluster.objects.create(name=f"fake-{uuid.uuid4().hex[:6]}", kubeconfig=server.kubeconfig())
        project.save()
        pipeline, _ = ensure_pipeline(project, "app", "https://git.example.com/team/app.git")
        execution = engine.create_execution(pipeline, parse_pipeline(SLOW), engine.TriggerInfo(branch="main"))
        engine.admit(project.pk)
        assert engine.start(execution.pk)
        assert engine.start(execution.pk)  # the second create answers 409 AlreadyExists
        server.store.delete("pods", names.pod_name("app", execution.run), names.namespace(project.name))
        assert KubernetesExecutor(project.cluster)._pod(execution) is None  # 404, caught
    after = scrape(client)

    def grown(**labels):
        return (value(after, "devops_executor_api_errors_total", **labels) or 0) - (
            value(before, "devops_executor_api_errors_total", **labels) or 0
        )

    assert grown(operation="create_pod", status="409") == 1
    assert grown(operation="read_pod", status="404") == 1


@pytest.mark.django_db
def test_multiprocess_mode_adds_up_every_process(client, tmp_path, monkeypatch):
    """gunicorn's processes (here: two plain subprocesses) count into PROMETHEUS_MULTIPROC_DIR; a scrape
    by any process reports the sum."""
    script = textwrap.dedent(
        """
        from types import SimpleNamespace
        from devops.ops.metrics import WEBHOOK_DELIVERIES, count_api_error
        for _ in range(3):
            count_api_error("create_pod", SimpleNamespace(status=500))
        WEBHOOK_DELIVERIES.labels("gitlab", "202").inc()
        """
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], cwd=str(_root()), env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and kind
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)
    assert value(samples, "devops_executor_api_errors_total", operation="create_pod", status="500") == 6
    assert value(samples, "devops_webhook_deliveries_total", provider="gitlab", status="202") == 2
    assert value(samples, "devops_database_up") == 1.0  # the database part does not depend on the mode


def _root():
    from django.conf import settings

    return settings.BASE_DIR


@pytest.mark.django_db
def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "scrape-token-1"
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "scrape-token-1" not in response.content.decode()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token scrape-token-1").status_code == 401
    samples = scrape(client, HTTP_AUTHORIZATION="Bearer scrape-token-1")
    assert value(samples, "devops_database_up") == 1.0


def test_a_worker_serves_its_own_counters(settings):
    """WORKER_METRICS_PORT: the process's counters over HTTP, without the database part (the web
    serves that, once for all)."""
    import socket
    import urllib.request

    from devops.ops.metrics import count_api_error, serve_worker_metrics

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    count_api_error("delete_pod", SimpleNamespace(status=503))
    assert serve_worker_metrics(port) is True
    assert serve_worker_metrics(port) is False  # once per process
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'devops_executor_api_errors_total{operation="delete_pod",status="503"}' in text
    assert "devops_executions" not in text and "devops_database_up" not in text
