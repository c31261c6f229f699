"""Helpers shared by ``bench/cache.py`` and ``bench/logs_volume.py``: sample repositories, waiting for
an execution, disk usage, process memory, and the throwaway matplotlib virtualenv for the plots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from engine_util import FINAL, REPO, log, run

BENCH_VAR = REPO / "var" / "bench"
PLOT_VENV = BENCH_VAR / "matplotlib-venv"
PLOTS = REPO / "docs" / "plots"


def git_repo_from(source: Path, dest: Path, message: str) -> Path:
    """A fresh one-commit git repository holding a copy of ``source`` (build leftovers excluded)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("build", "dist", ".cache", "__pycache__"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-C", str(dest)]
    run(["git", "init", "-q", "-b", "main", str(dest)])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "-m", message])
    return dest


def wait_final(execution_id: int, timeout: float, poll: float = 0.2) -> Any:
    """The execution once it is final (polled: the figures come from the rows' own timestamps)."""
    from devops.models import PipelineExecution

    deadline = time.monotonic() + timeout
    while True:
        state = PipelineExecution.objects.filter(pk=execution_id).values_list("state", flat=True).first()
        if state in FINAL:
            return PipelineExecution.objects.get(pk=execution_id)
        if time.monotonic() > deadline:
            row = PipelineExecution.objects.filter(pk=execution_id).values(
                "state", "reason", "created_at", "admitted_at", "launched_at", "started_at", "heartbeat_at"
            )
            raise SystemExit(f"execution {execution_id} not final after {timeout:.0f}s: {row.first()}")
        time.sleep(poll)


def failure_details(execution: Any) -> str:
    """State, reason and the tail of the first failed step's log, for a run that did not succeed."""
    from devops.selectors import read_step_log

    lines = [f"execution {execution.pk} ended {execution.state}: {execution.reason}"]
    for step in execution.steps.order_by("stage_index", "index"):
        if step.state not in ("Success", "Skipped") and step.log_key:
            data = read_step_log(step, 0, None).data
            lines.append(f"--- stage {step.stage_index} step {step.index} ({step.state}), last lines of its log:")
            lines += data.decode(errors="replace").splitlines()[-25:]
            break
    return "\n".join(lines)


def dir_usage(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path``, not following symlinks."""
    total = files = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
                files += 1
            except FileNotFoundError:
                pass
    return total, files


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- process memory ------------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (by parent pid, so steps in their own sessions count too)."""
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 if it is gone): shared pages are split between the
    processes sharing them, so a sum over a tree does not count a fork's copy-on-write pages twice."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the given live processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- plots ---------------------------------------------------------------------------------------------
def matplotlib_python() -> Path | None:
    """The python of a throwaway virtualenv with matplotlib (``var/bench/matplotlib-venv``), created on
    first use; None (and the plots are skipped) when it cannot be installed. matplotlib stays out of the
    service's requirements."""
    python = PLOT_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode == 0:
        return python
    log(f"creating {PLOT_VENV.relative_to(REPO)} with matplotlib for the plots")
    try:
        shutil.rmtree(PLOT_VENV, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(PLOT_VENV)])
        run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "matplotlib"])
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        log(f"no plots: matplotlib could not be installed ({str(detail).strip()[-300:]})")
        return None
    return python


def plot(script: str, data: Path, out: Path) -> None:
    """Run ``bench/<script>`` under the matplotlib virtualenv to turn ``data`` (JSON) into ``out`` (PNG)."""
    python = matplotlib_python()
    if python is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([python, str(REPO / "bench" / script), str(data), str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        log(f"plot {out.name} failed: {result.stderr.strip()[-500:]}")
    else:
        log(f"plot: {out.relative_to(REPO)}")
