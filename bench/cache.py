#!/usr/bin/env python
"""Cache speed-up benchmark: dependency-heavy samples run cold (cache cleared) and warm.

Through the real engine: ``devops.triggers.trigger_pipeline``, a real Celery worker subprocess and the
local executor, whose caches are directories under ``cache-root/<project>/<pipeline>/`` linked into the
workspace at the step's cache paths (``devops/executors/local/caches.py``). The world is
``engine_world.World``: a dedicated PostgreSQL database (``devops_bench_cache``, created and dropped)
and Redis db 12 as the broker.

Sample kinds (``--kinds``):

* ``python``: ``examples/pydeps-app``. Its Install step creates a virtualenv in the cache path
  ``.cache/venv`` (unless it is there) and runs ``pip install -r requirements.txt``: 15 pinned packages,
  52 distributions with their dependencies (Django, Celery, boto3, numpy, pandas, ...). Then a Test step
  runs its unit tests, which import every package. The wheels come from a local wheelhouse
  (``var/bench/wheelhouse``, made once with ``pip download`` by the ``python3`` the steps run, then
  reused) passed as run variables ``PIP_NO_INDEX=1 PIP_FIND_LINKS=...`` and ``PIP_CONFIG_FILE=/dev/null``
  (this host's pip configuration stays out): the network is not measured. Cached: the whole virtualenv.
* ``c``: ``examples/sample-app`` (what ``make demo`` runs): a C library, CLI and unit tests built with
  ``tools/cc-cache``, a compiler cache in the cache path ``.cache/cc``; then its tests and a package.
  Cached: the compiled objects, keyed by a hash of the preprocessed source and the flags.

Each sample is a cold run (the pipeline's cache directory removed first) followed by a warm run. The
figures come from the rows' timestamps: the execution's duration (``started_at`` -> ``ended_at``, what
the UI shows; the implicit Clone stage included) and the cached stage's duration. Medians over
``--samples``; one summary line per kind. Prints figures; asserts nothing. Writes the samples to
``var/bench/cache.json`` and, unless ``--no-plot``, ``docs/plots/cache.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cache_util import BENCH_VAR, PLOTS, dir_usage, failure_details, git_repo_from, load_average, plot, wait_final  # noqa: E402
from engine_util import REPO, log  # noqa: E402
from engine_world import World  # noqa: E402

sys.path.insert(0, str(REPO))

WHEELHOUSE = BENCH_VAR / "wheelhouse"
KINDS = {
    # kind: (example directory, the stage whose step uses the cache)
    "python": ("pydeps-app", "Install"),
    "c": ("sample-app", "Build"),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=3, help="cold+warm pairs per kind (default 3)")
    p.add_argument("--kinds", default="python,c", help="comma-separated: python, c (default both)")
    p.add_argument("--worker-concurrency", type=int, default=4)
    p.add_argument("--timeout", type=float, default=900, help="seconds one execution may take (default 900)")
    p.add_argument("--database", default="devops_bench_cache")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    p.add_argument("--no-plot", action="store_true", help="do not write docs/plots/cache.png")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and the database")
    args = p.parse_args()
    args.sqlite, args.trace = False, False
    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        p.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    return args


def step_python() -> str:
    """The ``python3`` a step finds on its PATH (the worker's PATH): the wheels must fit it."""
    python = shutil.which("python3")
    if python is None:
        raise SystemExit("no python3 on PATH: the python sample cannot run")
    return python


def prepare_wheelhouse(requirements: Path) -> Path:
    """``var/bench/wheelhouse``: every wheel the sample needs, downloaded once (network), then reused."""
    python = step_python()
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             check=True).stdout.strip()  # fmt: skip
    stamp = hashlib.sha256(requirements.read_bytes() + version.encode()).hexdigest()
    stamp_file = WHEELHOUSE / ".stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        log(f"wheelhouse {WHEELHOUSE.relative_to(REPO)}: {len(list(WHEELHOUSE.glob('*.whl')))} wheels, up to date")
        return WHEELHOUSE
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    WHEELHOUSE.mkdir(parents=True)
    t = time.monotonic()
    result = subprocess.run(
        [python, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
         "-r", str(requirements), "-d", str(WHEELHOUSE)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"pip download failed:\n{result.stderr[-3000:]}")
    stamp_file.write_text(stamp)
    size, files = dir_usage(WHEELHOUSE)
    log(f"wheelhouse {WHEELHOUSE.relative_to(REPO)}: {files - 1} wheels, {size / 1e6:.0f} MB, "
        f"downloaded in {time.monotonic() - t:.0f}s with {python} ({version.split()[0]})")  # fmt: skip
    return WHEELHOUSE


def stage_seconds(execution: object, name: str) -> float:
    row = execution.stages.get(name=name)  # type: ignore[attr-defined]
    return (row.ended_at - row.started_at).total_seconds()


def describe_cache(kind: str, root: Path) -> str:
    """What a cold run left in the pipeline's cache directory."""
    parts = []
    for entry in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        size, files = dir_usage(entry)
        extra = ""
        if kind == "python":
            dists = len(list(entry.glob("lib/python*/site-packages/*.dist-info")))
            extra = f", {dists} distributions (the 52 required, pip and setuptools as the venv put them)"
        elif kind == "c":
            extra = f", {len(list(entry.rglob('*.o')))} compiled objects"
        parts.append(f"{entry.name}: {size / 1e6:.1f} MB in {files} files{extra}")
    return "; ".join(parts) or "nothing"


def run_kind(kind: str, args: argparse.Namespace, world: World) -> dict[str, object]:
    from devops.selectors import project_setting
    from devops.services import ensure_pipeline, ensure_project, set_project_setting
    from devops.triggers import trigger_pipeline

    example, stage = KINDS[kind]
    repo = git_repo_from(REPO / "examples" / example, world.tmp / "repos" / example, f"{example}: bench sample")
    variables: dict[str, str] = {}
    if kind == "python":
        wheels = prepare_wheelhouse(repo / "requirements.txt")
        variables = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": "/dev/null"}
    project = ensure_project("bench-cache")
    set_project_setting(project, "executor-quota", "0")
    pipeline, _ = ensure_pipeline(project, example, str(repo))
    cache_root = Path(project_setting(project.pk, "cache-root")) / project.name / str(pipeline.pk)
    samples: list[dict[str, Any]] = []
    described = ""
    for i in range(args.samples):
        sample: dict[str, Any] = {}
        for temperature in ("cold", "warm"):
            if temperature == "cold":
                shutil.rmtree(cache_root, ignore_errors=True)
            execution = trigger_pipeline(pipeline, extra_env=variables)
            execution = wait_final(execution.pk, args.timeout)
            if execution.state != "Success":
                raise SystemExit(failure_details(execution))
            total = (execution.ended_at - execution.started_at).total_seconds()
            sample[f"{temperature}_total"] = total
            sample[f"{temperature}_stage"] = stage_seconds(execution, stage)
            stages = execution.stages.order_by("index")
            sample[f"{temperature}_stages"] = {
                row.name: (row.ended_at - row.started_at).total_seconds() for row in stages
            }
            log(f"{kind} sample {i + 1} {temperature}: execution {total:.2f}s, {stage} stage "
                f"{sample[f'{temperature}_stage']:.2f}s (load {load_average()})")  # fmt: skip
            if temperature == "cold" and not described:
                described = describe_cache(kind, cache_root)
        samples.append(sample)
    log(f"cached ({kind}): {described}")
    return {"kind": kind, "example": example, "stage": stage, "samples": samples, "cached": described}


def summarize(result: dict[str, object]) -> None:
    samples: list[dict[str, Any]] = result["samples"]  # type: ignore[assignment]

    def med(key: str) -> float:
        return statistics.median(s[key] for s in samples)

    cold, warm = med("cold_total"), med("warm_total")
    scold, swarm = med("cold_stage"), med("warm_stage")
    ratios = [s["cold_total"] / s["warm_total"] for s in samples]
    print(
        f"cache: kind={result['kind']} cold={cold:.2f}s warm={warm:.2f}s speedup={cold / warm:.1f}x "
        f"(execution, median of {len(samples)}; per sample {min(ratios):.1f}-{max(ratios):.1f}x) goal>=5x"
    )
    print(f"cache: kind={result['kind']} stage={result['stage']} cold={scold:.2f}s warm={swarm:.2f}s "
          f"speedup={scold / swarm:.1f}x (the cached step's stage alone)")  # fmt: skip
    for temperature in ("cold", "warm"):
        names = samples[0][f"{temperature}_stages"]
        parts = {name: statistics.median(s[f"{temperature}_stages"][name] for s in samples) for name in names}
        rest = statistics.median(s[f"{temperature}_total"] - sum(s[f"{temperature}_stages"].values()) for s in samples)
        log(f"{result['kind']} {temperature}, median per stage: "
            + ", ".join(f"{name} {sec:.2f}s" for name, sec in parts.items())
            + f"; outside the stages (engine, between stages) {rest:.2f}s")  # fmt: skip


def main() -> None:
    args = parse_args()
    os.chdir(REPO)
    world = World(args)
    world.queues = "engine,runner"
    results = []
    try:
        world.environment()
        world.migrate()
        import django

        django.setup()
        world.start_worker()
        log(f"load average at start: {load_average()}; {os.cpu_count()} CPUs")
        for kind in args.kinds.split(","):
            results.append(run_kind(kind, args, world))
        log(f"load average at end: {load_average()}")
        for result in results:
            summarize(result)
    finally:
        world.teardown()
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    data = BENCH_VAR / "cache.json"
    data.write_text(json.dumps(results, indent=1))
    if not args.no_plot and results:
        plot("cache_plot.py", data, PLOTS / "cache.png")


if __name__ == "__main__":
    main()
