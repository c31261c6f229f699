"""Shared fixtures: real git repositories, projects and pipelines, and a REAL Celery worker.

Nothing here replaces our code or a client library: repositories are made with the git binary, the
worker is ``celery worker`` in its own process on the Redis broker (db 15) and pytest-django's test
database, and steps are real process groups on this host.

Tests that need the worker are marked ``@pytest.mark.worker`` and
``@pytest.mark.django_db(transaction=True)`` (the worker is another process: it must see committed
rows) and request the ``worker`` fixture, which waits for the worker to go idle after the test so a
runner never writes into the next test's tables.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():  # e.g. CI with the interpreter installed elsewhere
    PYTHON = sys.executable
QUEUES = "engine,runner,hooks,maintenance"
SILENCE_SECONDS = 4
GIT_AUTHOR = ["-c", "user.name=Test Author", "-c", "user.email=author@example.com"]


# --- git repositories ---------------------------------------------------------------------------------
def git(path: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z",
        "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
    }
    proc = subprocess.run(["git", *GIT_AUTHOR, *args], cwd=path, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Repo:
    """A real git repository on disk (branch ``main``)."""

    path: Path
    shas: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return str(self.path)

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        sha = self.head()
        self.shas.append(sha)
        return sha

    def head(self, ref: str = "HEAD") -> str:
        return git(self.path, "rev-parse", ref)

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create ``name`` at ``start`` and check it out (commits then land on it)."""
        git(self.path, "checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        git(self.path, "checkout", "-q", name)

    def tag(self, name: str, message: str | None = None) -> str:
        if message is None:
            git(self.path, "tag", name)
        else:
            git(self.path, "tag", "-a", name, "-m", message)
        return self.head(f"{name}^{{commit}}")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """``make_repo(pipeline_yaml, files=None, name="app")``: a repo with one commit on ``main``."""
    counter = [0]

    def make(pipeline_yaml: str | None = None, files: dict[str, str] | None = None, name: str = "app") -> Repo:
        counter[0] += 1
        path = tmp_path / f"repo{counter[0]}" / name
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")
        repo = Repo(path)
        content = dict(files or {"README.md": "hello\n"})
        if pipeline_yaml is not None:
            content[".devops.yml"] = pipeline_yaml
        repo.commit(content, "initial commit")
        return repo

    return make


# --- projects and pipelines ---------------------------------------------------------------------------
def unique_name(prefix: str) -> str:
    """Logs, workspaces and caches are keyed by project name: never reuse one across sessions."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Callable[..., object]:
    """``make_pipeline(repo, quota=..., settings={...})`` -> a Pipeline in a fresh project.

    Each project gets its own ``cache-root`` under the test's tmp dir so caches never leak between
    tests or sessions.
    """
    from devops.services import ensure_pipeline, ensure_project, set_project_setting

    def make(
        repo: Repo | str,
        *,
        quota: int | None = None,
        settings: dict[str, str] | None = None,
        name: str = "app",
        project: str | None = None,
    ):
        proj = ensure_project(project or unique_name("p"))
        values = {"cache-root": str(tmp_path / f"cache-{proj.name}")}
        if quota is not None:
            values["executor-quota"] = str(quota)
        values.update(settings or {})
        for key, value in values.items():
            set_project_setting(proj, key, value)
        pipeline, _ = ensure_pipeline(proj, name, str(repo))
        return pipeline

    return make


# --- processes ----------------------------------------------------------------------------------------
def proc_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return not group_members(pgid)  # only zombies left: dead, waiting for init to reap them


def wait_until(predicate: Callable[[], object], timeout: float, message: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


# --- the executions -----------------------------------------------------------------------------------
def describe(execution_id: int) -> str:
    from devops.models import PipelineExecution, StepRun

    ex = PipelineExecution.objects.get(pk=execution_id)
    steps = [
        f"  {s.stage_index}.{s.index} {s.name}: {s.state} {s.reason!r} exit={s.exit_code}"
        for s in StepRun.objects.filter(execution_id=execution_id)
    ]
    return "\n".join([f"execution {execution_id} #{ex.run}: {ex.state} {ex.reason!r}", *steps])


def wait_final(execution_id: int, timeout: float = 30):
    """Poll the database until the execution is final; returns the fresh row."""
    from devops.models import PipelineExecution
    from devops.states import FINAL_STATES

    deadline = time.monotonic() + timeout
    while True:
        ex = PipelineExecution.objects.get(pk=execution_id)
        if ex.state in FINAL_STATES:
            return ex
        if time.monotonic() > deadline:
            raise AssertionError(f"execution not final after {timeout}s:\n{describe(execution_id)}")
        time.sleep(0.05)


def wait_state(model, pk: int, states: set[str], timeout: float = 20):
    def check():
        obj = model.objects.get(pk=pk)
        return obj if obj.state in states else None

    return wait_until(check, timeout, f"{model.__name__} {pk} never reached {states}")


def steps_of(execution_id: int) -> dict[str, object]:
    """StepRuns by name (names are unique within these tests' pipelines)."""
    from devops.models import StepRun

    return {s.name: s for s in StepRun.objects.filter(execution_id=execution_id)}


def read_whole_log(key: str) -> tuple[bytes, bool]:
    """The log as a reader sees it now (live or stored): (bytes, complete)."""
    from devops.logs import get_live_log, get_log_store, read_log

    data, offset = b"", 0
    while True:
        chunk = read_log(key, offset, live=get_live_log(), store=get_log_store())
        data += chunk.data
        if not chunk.data or chunk.complete:
            return data, chunk.complete
        offset = chunk.next_offset


def stored_log(step) -> str:
    """The final stored log of a finished step (waits briefly for the runner to store it)."""
    from devops.logs import get_log_store

    store = get_log_store()
    wait_until(lambda: store.size(step.log_key) is not None, 15, f"log {step.log_key} never stored")
    return (store.read(step.log_key) or b"").decode()


# --- the real worker ----------------------------------------------------------------------------------
@dataclass
class WorkerInfo:
    proc: subprocess.Popen
    name: str
    env: dict[str, str]
    database_url: str


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    host, port, user = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432, s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def worker_env(database_url: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "0",  # no idle connection may hold up the flush between tests
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "RUNNER_SILENCE_SECONDS": str(SILENCE_SECONDS),
        "DEVOPS_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    }


def start_worker(env: dict[str, str], name: str, queues: str, concurrency: int, log_path: Path) -> subprocess.Popen:
    argv = [
        PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", queues, "-P", "threads",
        "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "warning", "-n", name,
    ]  # fmt: skip
    log = open(log_path, "ab")  # noqa: SIM115 - the worker owns it for its whole life
    proc = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    from config.celery import app

    full_name = name.replace("%h", os.uname().nodename)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[full_name], timeout=0.5):
        if proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited with {proc.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            stop_worker(proc)
            raise RuntimeError(f"worker {name} did not answer a ping within 60s; see {log_path}")
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """A test database of our own (``test_devops_<pid>``): other engineers' sessions run beside ours on
    the same server, and a shared ``test_devops`` makes one session fail to create or drop it."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        if db["ENGINE"].endswith("sqlite3"):
            continue
        test = db.setdefault("TEST", {})
        test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{os.getpid()}"


@pytest.fixture(scope="session")
def celery_worker_proc(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WorkerInfo]:
    """A real ``celery worker`` on all four queues, on the test database and Redis db 15."""
    from config.celery import app

    with django_db_blocker.unblock():
        database_url = _test_database_url()
    app.control.purge()  # leftovers of an earlier, interrupted session
    env = worker_env(database_url)
    name = f"session-{os.getpid()}@%h"
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(env, name, QUEUES, 24, log_path)
    info = WorkerInfo(proc, name.replace("%h", os.uname().nodename), env, database_url)
    try:
        yield info
    finally:
        stop_worker(proc)
        app.control.purge()


def wait_worker_idle(name: str, timeout: float = 30) -> None:
    from config.celery import app

    def idle() -> bool:
        inspect = app.control.inspect(destination=[name], timeout=1)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        return bool(active) and not any(active.values()) and not any(reserved.values())

    wait_until(idle, timeout, f"worker {name} still busy", interval=0.2)


@pytest.fixture
def worker(transactional_db, celery_worker_proc) -> Iterator[WorkerInfo]:
    """The session worker for one test; afterwards nothing of the test may still run."""
    from devops import engine
    from devops.models import PipelineExecution
    from devops.states import FINAL_STATES

    yield celery_worker_proc
    leftover = PipelineExecution.objects.exclude(state__in=FINAL_STATES).values_list("id", flat=True)
    for execution_id in leftover:
        engine.abort(execution_id, "test ended")
    wait_worker_idle(celery_worker_proc.name)
    from django.db import connections

    connections.close_all()


@pytest.fixture(name="wait_final")
def wait_final_fixture() -> Callable[..., object]:
    """``wait_final(execution_id, timeout=30)``: poll the database until the execution is final."""
    return wait_final


@pytest.fixture
def h() -> SimpleNamespace:
    """The helpers above, for test modules (test directories are not packages, so no imports)."""
    return SimpleNamespace(
        describe=describe,
        git=git,
        group_gone=group_gone,
        group_members=group_members,
        proc_alive=proc_alive,
        read_whole_log=read_whole_log,
        steps_of=steps_of,
        stored_log=stored_log,
        unique_name=unique_name,
        wait_final=wait_final,
        wait_state=wait_state,
        wait_until=wait_until,
        start_worker=start_worker,
        stop_worker=stop_worker,
        wait_worker_idle=wait_worker_idle,
        worker_env=worker_env,
        test_database_url=_test_database_url,
        python=PYTHON,
        base_dir=BASE_DIR,
        silence_seconds=SILENCE_SECONDS,
    )


@pytest.fixture
def trigger():
    """``trigger(pipeline, **kwargs)`` -> execution (the real trigger: git, pipeline file, engine)."""
    from devops.triggers import trigger_pipeline

    return trigger_pipeline


# --- a real S3 server (moto) -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``host:port`` of a moto S3 server started for this test session."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited early with code {proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answered, even if with an error status
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto server did not answer within 30s")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
