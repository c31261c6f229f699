"""Prometheus metrics: what the database knows, read at scrape time, plus what processes count.

Two sources, chosen per metric by where the truth is:

* **From the database, at scrape time** (``DatabaseCollector``): executions by state, queue depth and
  running count per project, and the execution and step duration histograms. Web, workers and beat
  are many processes on several hosts; the rows are the one place that sees all of them, so any web
  process answers the same. The histograms are built from the runs that *finished in the last
  METRICS_WINDOW_SECONDS* (an hour by default): a sliding window, not a cumulative counter, so read
  them with ``histogram_quantile(0.95, devops_execution_duration_seconds_bucket)`` directly, not
  through ``rate()``. Recording durations in-process instead would lose them whenever the process
  that finished an execution (any worker thread, or the safety net) is not the one scraped.
* **Counted in the process where they happen**: webhook intake (count by provider and answer status,
  latency) in the web processes, and Kubernetes API errors wherever the executor caught one. gunicorn
  runs several processes, so with ``PROMETHEUS_MULTIPROC_DIR`` set (a directory wiped when the
  service starts, shared by the processes of one pod/host) every process writes its counts there and
  a scrape adds them up (prometheus_client's multiprocess mode); without it the counts are this
  process's own. A Celery worker serves its counts on ``WORKER_METRICS_PORT`` when set.

``/metrics`` may be protected with ``METRICS_TOKEN`` (``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

__all__ = [
    "EXECUTOR_API_ERRORS",
    "PROCESS_REGISTRY",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_LATENCY",
    "DatabaseCollector",
    "count_api_error",
    "observe_intake",
    "render",
    "serve_worker_metrics",
]

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_DELIVERIES = Counter(
    "devops_webhook_deliveries",
    "Webhook requests answered by the intake, by provider and HTTP answer status.",
    ["provider", "status"],
    registry=PROCESS_REGISTRY,
)
WEBHOOK_LATENCY = Histogram(
    "devops_webhook_intake_seconds",
    "Time the intake took to answer a webhook request (verify, filter, record), by provider.",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS_REGISTRY,
)
EXECUTOR_API_ERRORS = Counter(
    "devops_executor_api_errors",
    "Kubernetes API errors the executor caught, by operation and HTTP status (404/409 on idempotent "
    "creates and deletes are expected answers; alert on 401/403/5xx).",
    ["operation", "status"],
    registry=PROCESS_REGISTRY,
)

EXECUTION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
STEP_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# The histograms look at finished runs among this many newest executions: a primary-key range, so a
# scrape costs the same with ten thousand executions as with ten million.
RECENT_EXECUTIONS = 10_000
_IMAGE_SOURCES = frozenset({"harbor", "dockerhub", "acr"})


# --- counted in the process -----------------------------------------------------------------------
def count_api_error(operation: str, exc: BaseException) -> None:
    """One caught Kubernetes ``ApiException`` (called from the executor's except blocks)."""
    EXECUTOR_API_ERRORS.labels(operation, str(getattr(exc, "status", None) or "none")).inc()


def _intake_provider(kind: str, request: Any, response: Any) -> str:
    if kind == "image":
        try:
            source = json.loads(response.content).get("source")
        except (ValueError, AttributeError):
            source = None
        return source if source in _IMAGE_SOURCES else "unknown"
    from devops.scm import registry

    provider = registry.detect({k.lower(): v for k, v in request.headers.items()})
    return provider.name if provider else "unknown"


def observe_intake(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a webhook view (``kind`` "pipeline" or "image"): count its answers, time them."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def observed(request: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            status, response = "500", None
            try:
                response = view(request, *args, **kwargs)
                status = str(response.status_code)
                return response
            finally:
                try:
                    provider = _intake_provider(kind, request, response) if response is not None else "unknown"
                    WEBHOOK_DELIVERIES.labels(provider, status).inc()
                    WEBHOOK_LATENCY.labels(provider).observe(time.perf_counter() - started)
                except Exception:  # noqa: BLE001, S110 - counting must never change the answer
                    pass

        return observed

    return decorate


# --- read from the database at scrape time --------------------------------------------------------
def _histogram(
    name: str, doc: str, labels: Sequence[str], buckets: Sequence[float], samples: dict[tuple[str, ...], list[float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for key, durations in sorted(samples.items()):
        cumulative = [(_le(bound), float(sum(1 for d in durations if d <= bound))) for bound in buckets]
        cumulative.append(("+Inf", float(len(durations))))
        family.add_metric(list(key), cumulative, sum_value=float(sum(durations)))
    return family


def _le(bound: float) -> str:
    return f"{float(bound)}"


class DatabaseCollector:
    """Reads the execution rows on every scrape (a handful of indexed queries)."""

    def __init__(self, window_seconds: float | None = None) -> None:
        self.window_seconds = window_seconds

    def collect(self) -> Iterator[Metric]:
        from django.conf import settings

        window = self.window_seconds or float(getattr(settings, "METRICS_WINDOW_SECONDS", 3600))
        up = GaugeMetricFamily("devops_database_up", "1 if the metrics could be read from the database.")
        try:
            families = list(self._families(window))
        except Exception:  # noqa: BLE001 - a scrape must still answer; the gauge says what happened
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _families(self, window: float) -> Iterable[Metric]:
        from django.db.models import Count
        from django.utils import timezone

        from devops.models import PipelineExecution, Project, StepRun
        from devops.states import ACTIVE_STATES, State

        by_state = dict(PipelineExecution.objects.order_by().values_list("state").annotate(n=Count("id")))
        executions = GaugeMetricFamily("devops_executions", "Executions in each state.", labels=["state"])
        for state in State.values:
            executions.add_metric([state], float(by_state.get(state, 0)))

        queued = GaugeMetricFamily(
            "devops_project_queue_depth",
            "Executions waiting for admission (Queueing), per project.",
            labels=["project"],
        )
        running = GaugeMetricFamily(
            "devops_project_running", "Admitted executions (Waiting or Building), per project.", labels=["project"]
        )
        counts: dict[tuple[int, str], int] = {
            (project_id, state): n
            for project_id, state, n in PipelineExecution.objects.order_by()
            .filter(state__in=[State.QUEUEING, *ACTIVE_STATES])
            .values_list("project_id", "state")
            .annotate(n=Count("id"))
        }
        for project_id, name in Project.objects.order_by("name").values_list("id", "name"):
            queued.add_metric([name], float(counts.get((project_id, State.QUEUEING), 0)))
            running.add_metric([name], float(sum(counts.get((project_id, s), 0) for s in ACTIVE_STATES)))
        yield from (executions, queued, running)

        cutoff = timezone.now() - timedelta(seconds=window)
        ids = PipelineExecution.objects.order_by("-id").values_list("id", flat=True)
        newest = list(ids[RECENT_EXECUTIONS - 1 : RECENT_EXECUTIONS])
        floor = newest[0] if newest else 0
        execution_samples: dict[tuple[str, ...], list[float]] = {}
        for state, started, ended in (
            PipelineExecution.objects.order_by()
            .filter(id__gte=floor, ended_at__gte=cutoff, started_at__isnull=False)
            .values_list("state", "started_at", "ended_at")
        ):
            execution_samples.setdefault((state,), []).append(max(0.0, (ended - started).total_seconds()))
        yield _histogram(
            "devops_execution_duration_seconds",
            f"Durations of executions that finished in the last {window:g} s, by final state (a sliding "
            "window: use histogram_quantile on the buckets, not rate()).",
            ["state"],
            EXECUTION_BUCKETS,
            execution_samples,
        )
        step_samples: dict[tuple[str, ...], list[float]] = {}
        for kind, state, started, ended in (
            StepRun.objects.order_by()
            .filter(execution_id__gte=floor, ended_at__gte=cutoff, started_at__isnull=False)
            .values_list("kind", "state", "started_at", "ended_at")
        ):
            step_samples.setdefault((kind, state), []).append(max(0.0, (ended - started).total_seconds()))
        yield _histogram(
            "devops_step_duration_seconds",
            f"Durations of steps that finished in the last {window:g} s, by step kind and final state "
            "(a sliding window, like devops_execution_duration_seconds).",
            ["kind", "state"],
            STEP_BUCKETS,
            step_samples,
        )
        window_gauge = GaugeMetricFamily(
            "devops_metrics_window_seconds", "The window of the duration histograms, in seconds."
        )
        window_gauge.add_metric([], window)
        yield window_gauge


# --- exposition ------------------------------------------------------------------------------------
class _Forward:
    """This process's own registry, inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def process_registry() -> CollectorRegistry:
    """The counted metrics: summed over all processes in multiprocess mode, else this process's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return PROCESS_REGISTRY
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def render(*, database: bool = True) -> bytes:
    """The Prometheus text exposition of every metric."""
    registry = CollectorRegistry()
    registry.register(_Forward(process_registry()))
    if database:
        registry.register(DatabaseCollector())
    return generate_latest(registry)


_worker_server_lock = threading.Lock()
_worker_server_started = False


def serve_worker_metrics(port: int) -> bool:
    """Serve this worker's counted metrics (not the database ones: the web serves those) on ``port``;
    once per process. Returns whether it started now."""
    global _worker_server_started
    from prometheus_client import start_http_server

    with _worker_server_lock:
        if _worker_server_started or not port:
            return False
        start_http_server(port, registry=process_registry())
        _worker_server_started = True
        return True
