"""The in-pod runner script, run for real: each "container" is a local ``sh`` process started at once
(as the kubelet starts a pod's containers), with a temp dir standing for ``/devops``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devops.executors.kubernetes.runner_script import RUNNER_SCRIPT, runner_args

# A fake 3-stage plan: stage 0 one step, stage 1 two parallel steps, stage 2 one step.
PLAN = [[(0, 0)], [(1, 0), (1, 1)], [(2, 0)]]


def record(root: Path, name: str, body: str = "") -> str:
    """A step script that logs start and end times (epoch float) into <root>/trace."""
    stamp = f'{sys.executable} -c "import time; print(time.time())"'
    return f'echo "{name} start $({stamp})" >> {root}/trace\n{body}\necho "{name} end $({stamp})" >> {root}/trace\n'


def start_pod(root: Path, scripts: dict[tuple[int, int], str], env: dict[str, str] | None = None):
    (root / "runner.sh").write_text(RUNNER_SCRIPT)
    procs = {}
    previous: list[tuple[int, int]] = []
    for stage in PLAN:
        for si, sj in stage:
            siblings = [s for s in stage if s != (si, sj)]
            args = runner_args(si, sj, previous, siblings)
            args[0] = str(root / "runner.sh")
            proc_env = {
                **os.environ,
                "DEVOPS_RUNNER_ROOT": str(root),
                "DEVOPS_TERMINATION_LOG": str(root / f"term-{si}-{sj}"),
                **(env or {}),
            }
            procs[(si, sj)] = subprocess.Popen(
                ["sh", *args, "sh", "-ec", scripts[(si, sj)]],
                env=proc_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        previous = stage
    return procs


def finish(procs, timeout: float = 30) -> dict[tuple[int, int], tuple[int, str]]:
    return {key: (p.wait(timeout=timeout), p.stdout.read()) for key, p in procs.items()}


def trace(root: Path) -> dict[str, float]:
    out = {}
    for line in (root / "trace").read_text().splitlines():
        name, what, at = line.split()
        out[f"{name} {what}"] = float(at)
    return out


def termination(root: Path, key: tuple[int, int]) -> dict:
    raw = (root / f"term-{key[0]}-{key[1]}").read_bytes()
    assert len(raw) < 4096  # the kubelet keeps at most 4 KB of a termination message
    return json.loads(raw)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path


def test_stages_in_order_steps_of_a_stage_together(root):
    scripts = {
        (0, 0): record(root, "clone", "sleep 0.3"),
        (1, 0): record(root, "a", "sleep 0.6"),
        (1, 1): record(root, "b", "sleep 0.6"),
        (2, 0): record(root, "deploy", "echo deployed"),
    }
    started = time.monotonic()
    results = finish(start_pod(root, scripts))
    took = time.monotonic() - started
    assert {key: code for key, (code, _) in results.items()} == {(0, 0): 0, (1, 0): 0, (1, 1): 0, (2, 0): 0}
    assert "deployed" in results[(2, 0)][1]
    t = trace(root)
    assert t["clone end"] <= t["a start"] and t["clone end"] <= t["b start"]
    assert abs(t["a start"] - t["b start"]) < 0.3  # together, not one after the other
    assert t["a end"] <= t["deploy start"] and t["b end"] <= t["deploy start"]
    assert took < 0.3 + 0.6 + 0.6  # the two 0.6 s steps overlapped
    for key in results:
        assert (root / "markers" / f"{key[0]}-{key[1]}.done").read_text() == "0\n"
        message = termination(root, key)
        assert message["exit"] == 0 and message["skipped"] is False
        assert message["ended"] >= message["started"]
    # handoff: the next stage starts soon after the last step of the previous one ends
    assert t["deploy start"] - max(t["a end"], t["b end"]) < 0.5


def test_failure_stops_siblings_and_skips_later_stages(root):
    scripts = {
        (0, 0): record(root, "clone"),
        (1, 0): record(root, "fails", "sleep 0.2; exit 7"),
        (1, 1): record(root, "slow", "sleep 20"),
        (2, 0): record(root, "deploy", "echo must-not-run"),
    }
    started = time.monotonic()
    results = finish(start_pod(root, scripts))
    assert time.monotonic() - started < 10  # the 20 s sibling was stopped, not waited for
    codes = {key: code for key, (code, _) in results.items()}
    assert codes[(0, 0)] == 0 and codes[(1, 0)] == 7
    assert codes[(1, 1)] != 0
    assert codes[(2, 0)] == 0  # skipped counts as success
    assert "must-not-run" not in results[(2, 0)][1]
    assert "skipped" in results[(2, 0)][1]
    markers = root / "markers"
    assert (markers / "1-0.done").read_text() == "7\n"
    assert (markers / "2-0.done").read_text() == "skipped\n"
    assert termination(root, (1, 0))["exit"] == 7
    stopped = termination(root, (1, 1))
    assert stopped["exit"] != 0 and "another step" in stopped["reason"]
    skipped = termination(root, (2, 0))
    assert skipped == {**skipped, "exit": 0, "skipped": True}
    assert "deploy start" not in trace(root)


def test_failure_in_first_stage_skips_everything_after(root):
    scripts = {
        (0, 0): "exit 3",
        (1, 0): "echo a",
        (1, 1): "echo b",
        (2, 0): "echo c",
    }
    results = finish(start_pod(root, scripts))
    assert results[(0, 0)][0] == 3
    for key in ((1, 0), (1, 1), (2, 0)):
        assert results[key][0] == 0
        assert termination(root, key)["skipped"] is True
        assert (root / "markers" / f"{key[0]}-{key[1]}.done").read_text() == "skipped\n"


def test_step_timeout_stops_the_step(root):
    scripts = {(0, 0): "sleep 20", (1, 0): "true", (1, 1): "true", (2, 0): "true"}
    started = time.monotonic()
    results = finish(start_pod(root, scripts, env={"DEVOPS_TIMEOUT": "1"}))
    assert time.monotonic() - started < 10
    assert results[(0, 0)][0] != 0
    assert "timed out" in termination(root, (0, 0))["reason"]
    assert termination(root, (2, 0))["skipped"] is True


def test_markers_are_written_atomically_and_nothing_else_is_left(root):
    scripts = {key: "true" for stage in PLAN for key in stage}
    finish(start_pod(root, scripts))
    assert sorted(p.name for p in (root / "markers").iterdir()) == ["0-0.done", "1-0.done", "1-1.done", "2-0.done"]
