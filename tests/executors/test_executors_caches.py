"""Cache binding on the local executor: real directories, symlinks and ``flock`` locks (no worker)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devops.executors.local.caches import ExecutionCaches, cache_dir_name


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("root", "ws1", "home1", "priv1", "ws2", "home2", "priv2")}
    for name, path in made.items():
        if name != "root":
            path.mkdir()
    return made


def test_absolute_path_is_not_cached_and_says_so(dirs):
    caches = ExecutionCaches(dirs["root"], dirs["priv1"])
    line = caches.bind("/var/cache/apt", dirs["ws1"], dirs["home1"])
    assert line == (
        "cache /var/cache/apt: the local executor keeps only paths inside the workspace or under ~/; not cached"
    )
    assert not Path("/var/cache/apt").is_symlink()
    assert not dirs["root"].exists() or not any(dirs["root"].iterdir()), "nothing may be created for it"


def test_workspace_and_home_paths_persist_between_executions(dirs):
    first = ExecutionCaches(dirs["root"], dirs["priv1"])
    assert first.bind("deps", dirs["ws1"], dirs["home1"]) == "cache deps: empty (first use)"
    assert first.bind("~/.m2", dirs["ws1"], dirs["home1"]) == "cache ~/.m2: empty (first use)"
    assert first.bind("deps", dirs["ws1"], dirs["home1"]) == "cache deps: in place"  # second step, same run
    (dirs["ws1"] / "deps" / "lib.jar").write_text("v1")
    (dirs["home1"] / ".m2" / "settings.xml").write_text("<s/>")
    first.release()

    second = ExecutionCaches(dirs["root"], dirs["priv2"])
    assert second.bind("deps", dirs["ws2"], dirs["home2"]) == "cache deps: restored"
    assert second.bind("$HOME/.m2", dirs["ws2"], dirs["home2"]) == "cache $HOME/.m2: empty (first use)"
    assert second.bind("~/.m2", dirs["ws2"], dirs["home2"]) == "cache ~/.m2: restored"
    assert (dirs["ws2"] / "deps" / "lib.jar").read_text() == "v1"
    assert (dirs["home2"] / ".m2" / "settings.xml").read_text() == "<s/>"
    assert (dirs["ws2"] / "deps").resolve() == dirs["root"] / cache_dir_name("deps")
    second.release()


def test_path_present_in_the_checkout_is_left_alone(dirs):
    (dirs["ws1"] / "vendor").mkdir()
    (dirs["ws1"] / "vendor" / "mine.txt").write_text("from git")
    caches = ExecutionCaches(dirs["root"], dirs["priv1"])
    assert caches.bind("vendor", dirs["ws1"], dirs["home1"]) == (
        "cache vendor: the checkout already has this path; not cached"
    )
    assert not (dirs["ws1"] / "vendor").is_symlink()
    assert (dirs["ws1"] / "vendor" / "mine.txt").read_text() == "from git"
    caches.release()


def test_busy_cache_gives_a_private_directory_instead_of_waiting(dirs):
    holder = ExecutionCaches(dirs["root"], dirs["priv1"])
    holder.bind("deps", dirs["ws1"], dirs["home1"])
    (dirs["ws1"] / "deps" / "shared.txt").write_text("shared")

    other = ExecutionCaches(dirs["root"], dirs["priv2"])
    started = time.monotonic()
    line = other.bind("deps", dirs["ws2"], dirs["home2"])
    assert time.monotonic() - started < 1, "a busy cache must not make the step wait"
    assert line == "cache deps: in use by another execution of this pipeline; running without it"
    private = (dirs["ws2"] / "deps").resolve()
    assert private.is_relative_to(dirs["priv2"]) and not any(private.iterdir())
    (dirs["ws2"] / "deps" / "private.txt").write_text("private")
    assert not (dirs["root"] / cache_dir_name("deps") / "private.txt").exists()
    # Asked again in the same execution (a later step), it stays private: never a lock half-way.
    assert other.bind("deps", dirs["ws2"], dirs["home2"]) == "cache deps: in place"
    holder.release()
    other.release()

    later = ExecutionCaches(dirs["root"], dirs["priv1"] / "later")
    ws3 = dirs["ws1"].parent / "ws3"
    ws3.mkdir()
    assert later.bind("deps", ws3, dirs["home1"]) == "cache deps: restored"
    assert sorted(p.name for p in (ws3 / "deps").iterdir()) == ["shared.txt"]
    later.release()


def test_busy_lock_held_by_another_process(dirs):
    """The lock is a real ``flock``: another process (another worker) holding it counts as busy."""
    dirs["root"].mkdir()
    lock = dirs["root"] / f"{cache_dir_name('deps')}.lock"
    # One process holds the lock itself: once it has been reaped, its descriptor (and lock) is gone.
    hold = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(lock)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        caches = ExecutionCaches(dirs["root"], dirs["priv1"])
        assert "in use by another execution" in caches.bind("deps", dirs["ws1"], dirs["home1"])
        caches.release()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    caches = ExecutionCaches(dirs["root"], dirs["priv2"])
    assert caches.bind("deps", dirs["ws2"], dirs["home2"]) == "cache deps: empty (first use)"
    caches.release()
