"""Measurement for the engine benchmark: seeing executions final, (a)+(b) latency and (c) throughput runs."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from engine_report import breakdown, timeline
from engine_util import FINAL, log

if TYPE_CHECKING:
    from engine_world import World

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

