"""Reporting for the engine benchmark: per-sample breakdown from the rows' timestamps, and the printed figures."""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from pathlib import Path

from engine_util import ms, pct, ts

LATENCY_GOAL = 0.30
THROUGHPUT_GOAL = 5.0


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




# --- the printed figures --------------------------------------------------------------------------------
def print_latency(
    latencies: list[float], parts: list[dict[str, float]], sessions: float | None, true_s: float, clone_s: float
) -> None:
    """(a) latency, its split around trigger_pipeline, (b) per-step overhead, the breakdown table, db sessions."""
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


def print_throughput(results: list[tuple[str, dict[str, float]]]) -> None:
    """(c) one line per executor quota."""
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


def print_own_times(true_s: float, clone_s: float) -> None:
    print()
    print(f"own process time outside the engine: sh -ec true {true_s * 1000:.1f}ms, clone script "
          f"{clone_s * 1000:.1f}ms (nproc {os.cpu_count()}; load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip
