"""The command line: ``manage.py runpipeline`` and ``validatepipeline`` as a user runs them.

``runpipeline`` runs in its own process against the test database; the session worker answers its
ping, so it uses that worker instead of starting one.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from devops.models import PipelineExecution
from devops.states import State

OK_PIPELINE = """
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "compiling $CICD_GIT_REPO_NAME"
            echo "compiled"
"""

FAILING_PIPELINE = """
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "broken build"
            exit 7
"""

TIMEOUT_PIPELINE = """
timeout: 0.05
stages:
  - name: Build
    steps:
      - name: forever
        runScriptConfig:
          image: alpine
          shellScript: sleep 300
"""

INVALID_PIPELINE = """stages:
  - name: Build
    steps:
      - runScriptConfig:
          image: alpine
          shellScript: echo hi
        bogus: 1
"""


def run_cli(h, worker, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    if worker is not None:  # the test database and the session worker's broker
        env = {**worker.env, "DB_CONN_MAX_AGE": "0"}
    return subprocess.run(
        [h.python, "manage.py", *args],
        cwd=h.base_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_runpipeline_success_streams_states_and_logs(worker, make_repo, h):
    repo = make_repo(OK_PIPELINE, name="widget")
    project = h.unique_name("cli")
    proc = run_cli(h, worker, "runpipeline", str(repo), "--project", project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "==> Build/compile: Waiting" in out
    assert "==> Build/compile: Success" in out
    assert "==> Clone/clone: Success" in out
    assert "Build/compile | compiling widget" in out
    assert "Build/compile | compiled" in out
    assert re.search(rf"^{project}/widget #1 Success in \d+\.\ds$", out, re.M), out
    # It ran through the real engine, in the test database, on the session worker.
    ex = PipelineExecution.objects.get(project__name=project)
    assert ex.state == State.SUCCESS and ex.commit == repo.head()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_runpipeline_failure_exits_1(worker, make_repo, h):
    proc = run_cli(h, worker, "runpipeline", str(make_repo(FAILING_PIPELINE)), "--project", h.unique_name("cli"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Build/compile | broken build" in proc.stdout
    assert "==> Build/compile: Failed (exit code 7)" in proc.stdout


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_runpipeline_invalid_file_exits_2_with_position(worker, make_repo, h):
    proc = run_cli(h, worker, "runpipeline", str(make_repo(INVALID_PIPELINE)), "--project", h.unique_name("cli"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(r"\.devops\.yml:7:9: unknown key 'bogus'", proc.stdout + proc.stderr), proc.stderr
    assert not PipelineExecution.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_runpipeline_timeout_exits_3(worker, make_repo, h):
    proc = run_cli(h, worker, "runpipeline", str(make_repo(TIMEOUT_PIPELINE)), "--project", h.unique_name("cli"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "pipeline timed out after 0.05 min" in proc.stdout


def test_validatepipeline_exit_codes(tmp_path, h):
    """No database and no worker needed: it only parses."""
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(OK_PIPELINE)
    bad.write_text(INVALID_PIPELINE)
    ok = run_cli(h, None, "validatepipeline", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "good.yml: valid (2 stages, 2 steps)" in ok.stdout  # with the implicit Clone stage
    invalid = run_cli(h, None, "validatepipeline", str(bad))
    assert invalid.returncode == 2
    assert f"{bad}:7:9: unknown key 'bogus'" in invalid.stdout
    missing = run_cli(h, None, "validatepipeline", str(tmp_path / "nope.yml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
