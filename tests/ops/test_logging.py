"""Structured logs: one JSON object per line with the ids of what the line concerns, and no secrets.

In-process tests use the same filters and formatter the settings install; the last tests start real
``manage.py`` processes with LOG_FORMAT=json / text to check the settings wiring itself.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess

import pytest

from devops.ops.logging import ContextFilter, JsonFormatter, RedactFilter, current_context, log_context, redact

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
PIPELINE = """
stages:
  - name: Build
    steps:
      - name: unit
        runScriptConfig: {image: alpine, shellScript: "true"}
"""


@pytest.fixture
def json_lines():
    """Capture every record that reaches the root logger, formatted as the JSON handler would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def execution(make_pipeline):
    from devops import engine
    from devops.pipeline_config import parse_pipeline

    pipeline = make_pipeline("https://git.example.com/team/app.git")
    return engine.create_execution(pipeline, parse_pipeline(PIPELINE), engine.TriggerInfo(branch="main"))


def test_one_json_object_per_line_with_the_basic_fields(json_lines):
    logging.getLogger("devops.test").warning("hello %s", "world")
    (line,) = json_lines()
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "WARNING"
    assert line["logger"] == "devops.test"
    assert line["message"] == "hello world"
    assert line["time"].endswith("+00:00") and "T" in line["time"]


@pytest.mark.django_db
def test_an_execution_context_puts_all_three_ids_on_every_line(json_lines, execution, django_assert_max_num_queries):
    log = logging.getLogger("devops.engine.test")
    with django_assert_max_num_queries(1), log_context(execution_id=execution.pk):
        log.warning("first")
        log.error("second")  # the pipeline and project were looked up once, for the first line
    log.warning("outside")
    first, second, outside = json_lines()
    for line in (first, second):
        assert line["execution_id"] == execution.pk
        assert line["pipeline_id"] == execution.pipeline_id
        assert line["project_id"] == execution.project_id
    assert "execution_id" not in outside and "project_id" not in outside


@pytest.mark.django_db
def test_a_pipeline_context_finds_its_project_and_contexts_nest(json_lines, execution):
    log = logging.getLogger("devops.scm.test")
    with log_context(pipeline_id=execution.pipeline_id):
        log.warning("pipeline line")
        with log_context(execution_id=execution.pk):
            assert current_context()["execution_id"] == execution.pk
            log.warning("execution line")
        with log_context(execution_id=10**9):  # an execution's own pipeline applies, not the outer one
            log.warning("unknown execution")
    pipeline_line, execution_line, unknown = json_lines()
    assert pipeline_line["project_id"] == execution.project_id and "execution_id" not in pipeline_line
    assert execution_line["execution_id"] == execution.pk
    assert execution_line["project_id"] == execution.project_id
    assert unknown["execution_id"] == 10**9
    assert "pipeline_id" not in unknown and "project_id" not in unknown


@pytest.mark.django_db
def test_task_bodies_set_the_context(json_lines, execution, monkeypatch):
    """devops.tasks wraps each body in log_context: a line logged deep in the engine carries the ids."""
    from devops import engine, tasks

    def start(execution_id: int) -> bool:
        logging.getLogger("devops.engine.lifecycle").warning("launching %s", execution_id)
        return True

    def admit(project_id: int) -> None:
        logging.getLogger("devops.engine.admission").warning("admitting")

    monkeypatch.setattr(engine, "start", start)
    monkeypatch.setattr(engine, "admit", admit)
    tasks.start(execution.pk)  # calling a task runs its body here
    tasks.admit(execution.project_id)
    started, admitted = json_lines()
    assert (started["execution_id"], started["pipeline_id"], started["project_id"]) == (
        execution.pk,
        execution.pipeline_id,
        execution.project_id,
    )
    assert admitted["project_id"] == execution.project_id and "execution_id" not in admitted


def test_explicit_extra_ids_win_over_the_context(json_lines):
    with log_context(execution_id=1, pipeline_id=2, project_id=3):
        logging.getLogger("devops.test").warning("x", extra={"execution_id": 99})
    (line,) = json_lines()
    assert (line["execution_id"], line["pipeline_id"], line["project_id"]) == (99, 2, 3)


def test_no_secret_reaches_a_line(json_lines):
    log = logging.getLogger("devops.scm.test")
    headers = {"Authorization": f"token {TOKEN}", "Accept": "application/json"}
    log.warning("calling the API with %s", headers)
    log.warning("Authorization: Bearer %s", "eyJhbGciOi.payload.sig")
    log.warning("clone https://x-access-token:%s@github.com/team/app.git failed", "s3cr3t-in-url")
    log.warning("config %s", json.dumps({"password": "hunter2-pass", "client_secret": "cs-value-1", "name": "ok"}))
    log.warning("refresh_token=rt-value-2&grant_type=refresh_token access_token: at-value-3")
    log.warning("pushed with %s", TOKEN)
    try:
        raise RuntimeError(f"the API refused webhook_secret='ws-value-4' and {TOKEN}")
    except RuntimeError:
        log.exception("registering the webhook failed")
    text = "\n".join(json.dumps(line) for line in json_lines())
    for secret in (TOKEN, "eyJhbGciOi", "s3cr3t-in-url", "hunter2-pass", "cs-value-1", "rt-value-2", "at-value-3",
                   "ws-value-4"):  # fmt: skip
        assert secret not in text, secret
    lines = json_lines()
    assert "'Accept': 'application/json'" in lines[0]["message"]  # what is not a secret stays
    assert "github.com/team/app.git" in lines[2]["message"]
    assert '"name": "ok"' in lines[3]["message"]
    assert "grant_type=refresh_token" in lines[4]["message"]
    assert "RuntimeError" in lines[-1]["exc"] and "***" in lines[-1]["exc"]


def test_redaction_leaves_ordinary_lines_alone():
    ordinary = ("execution 12 of pipeline 3 finished: Success", "step build-1 exit code 2", "3 tokens left")
    for line in (*ordinary, "secrets are masked"):
        assert redact(line) == line


# --- the settings wiring, in real processes ---------------------------------------------------------
SNIPPET = f"""
import logging
from devops.ops.logging import log_context
with log_context(execution_id=7, pipeline_id=8, project_id=9):
    logging.getLogger("devops.engine.lifecycle").warning("cloning with Authorization: Bearer {TOKEN}")
logging.getLogger("devops.webhooks").error("rejected token=tok-value-5 from %s", "github")
"""


def _shell(log_format: str, h) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "LOG_FORMAT": log_format}
    return subprocess.run([h.python, "manage.py", "shell", "-v", "0", "-c", SNIPPET], cwd=h.base_dir, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_log_format_json_in_a_real_process(h):
    proc = _shell("json", h)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    assert [line["logger"] for line in lines] == ["devops.engine.lifecycle", "devops.webhooks"]
    assert (lines[0]["execution_id"], lines[0]["pipeline_id"], lines[0]["project_id"]) == (7, 8, 9)
    assert lines[0]["message"] == "cloning with Authorization: ***"
    assert lines[1]["message"] == "rejected token=*** from github"
    assert TOKEN not in proc.stderr and "tok-value-5" not in proc.stderr


def test_log_format_text_is_the_default_and_redacts_too(h):
    proc = _shell("text", h)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["cloning with Authorization: ***", "rejected token=*** from github"]
    bad = _shell("yaml", h)
    assert bad.returncode != 0
    assert "LOG_FORMAT must be text or json, got 'yaml'" in bad.stderr
