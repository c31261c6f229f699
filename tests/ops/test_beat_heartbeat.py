"""Celery beat's liveness: the heartbeat its scheduler touches after every tick, and `manage.py beatprobe`.

A beat that hangs while its process lives is what the probe exists for, so the real test freezes a
real `celery beat` (SIGSTOP: alive, not ticking) and expects the probe to say so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from devops.ops.heartbeat import BEAT_HEARTBEAT, heartbeat_path, touch


def _probe(command: str, *args: str) -> int:
    try:
        call_command(command, *args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def test_beatprobe_fresh_stale_and_missing(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    settings.BEAT_PROBE_MAX_AGE = 60
    assert _probe("beatprobe") == 1
    assert f"no beat heartbeat at {tmp_path / 'heartbeats' / 'beat'}" in capsys.readouterr().err

    path = touch(BEAT_HEARTBEAT)
    assert path == tmp_path / "heartbeats" / "beat"
    assert _probe("beatprobe") == 0
    assert capsys.readouterr().out.startswith("beat: heartbeat ")

    old = time.time() - 120
    os.utime(path, (old, old))
    assert _probe("beatprobe") == 1  # the default comes from BEAT_PROBE_MAX_AGE
    assert "beat: last heartbeat 120s ago (more than 60s)" in capsys.readouterr().err
    assert _probe("beatprobe", "--max-age", "300") == 0
    settings.BEAT_PROBE_MAX_AGE = 300
    assert _probe("beatprobe") == 0


def test_beat_and_worker_heartbeats_do_not_stand_in_for_each_other(settings, tmp_path):
    """One VAR_DIR holds both on a single host (the embedded install)."""
    settings.VAR_DIR = tmp_path
    touch(BEAT_HEARTBEAT)
    assert _probe("workerprobe") == 1  # beat's file is no worker's
    heartbeat_path(BEAT_HEARTBEAT).unlink()
    touch(f"celery@{os.uname().nodename}")
    assert _probe("workerprobe") == 0
    assert _probe("beatprobe") == 1


@pytest.mark.django_db(transaction=True)  # the scheduler closes old connections itself, as beat does
def test_only_a_finished_tick_writes_the_heartbeat_and_a_clean_close_removes_it(settings, tmp_path):
    """The file follows the scheduler loop, not a clock of its own: a loop stuck before or inside a
    tick writes nothing (what SIGSTOP cannot tell apart from a side thread, which it freezes too)."""
    from config.celery import app
    from devops.ops.beat import HeartbeatScheduler

    settings.VAR_DIR = tmp_path
    path = heartbeat_path(BEAT_HEARTBEAT)
    scheduler = HeartbeatScheduler(app=app, max_interval=0.05, lazy=False)
    time.sleep(0.2)  # four loop intervals without a tick
    assert not path.exists()
    interval = scheduler.tick()
    assert 0 < interval <= 0.05
    assert path.exists()
    assert _probe("beatprobe", "--max-age", "60") == 0
    scheduler.close()
    assert not path.exists()


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


@pytest.mark.django_db(transaction=True)  # beat reads and writes its schedule in the test database
def test_a_real_beat_keeps_its_heartbeat_fresh_and_a_frozen_one_goes_stale(h, settings, tmp_path):
    env = {
        **h.worker_env(h.test_database_url()),
        "DEVOPS_VAR_DIR": str(tmp_path),
        "BEAT_MAX_LOOP_INTERVAL": "0.2",
        "BEAT_PROBE_MAX_AGE": "2",
    }
    argv = [h.python, "-m", "celery", "-A", "config", "beat", "-l", "info", "--pidfile", str(tmp_path / "beat.pid")]
    log_path = tmp_path / "beat.log"
    with open(log_path, "wb") as log:
        beat = subprocess.Popen(argv, cwd=h.base_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    settings.VAR_DIR = tmp_path  # the in-process probes below read the beat's directory
    path = tmp_path / "heartbeats" / "beat"
    try:

        def written_since(before: int | None) -> bool:
            assert beat.poll() is None, f"beat exited with {beat.returncode}: {log_path.read_text()}"
            return _mtime(path) not in (None, before)

        h.wait_until(lambda: written_since(None), 60, f"beat never wrote {path} (log: {log_path})")
        first = _mtime(path)
        h.wait_until(lambda: written_since(first), 10, "beat's heartbeat was written once, never again")

        # The real probe as the container runs it: its default age comes from BEAT_PROBE_MAX_AGE.
        probe = subprocess.run(
            [h.python, "manage.py", "beatprobe"], cwd=h.base_dir, env=env, capture_output=True, text=True, timeout=60
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.startswith("beat: heartbeat ")

        beat.send_signal(signal.SIGSTOP)  # alive, but its scheduler loop no longer runs
        try:
            frozen = _mtime(path)
            h.wait_until(lambda: _probe("beatprobe", "--max-age", "1") == 1, 30, "a frozen beat still looks fresh")
            assert _mtime(path) == frozen
            assert beat.poll() is None  # the process is alive: the old process check would have passed
        finally:
            beat.send_signal(signal.SIGCONT)
        h.wait_until(lambda: _probe("beatprobe", "--max-age", "1") == 0, 30, "beat did not beat again after SIGCONT")

        beat.terminate()  # a clean stop removes the file: a stopped beat is not reported as alive
        beat.wait(timeout=30)
        assert not path.exists()
        assert _probe("beatprobe") == 1
    finally:
        if beat.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                beat.send_signal(signal.SIGCONT)
                beat.kill()
            beat.wait()
