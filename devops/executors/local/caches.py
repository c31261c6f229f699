"""Caches for the local executor: a directory per pipeline and cache path, kept between executions.

Each path is a directory under ``cache-root/<project>/<pipeline>/<hash of path>`` linked into the
workspace. Two executions of one pipeline must not write one cache at once, so an execution takes an
exclusive ``flock`` on the cache for its whole life; when another execution holds it, the step runs
with an empty private directory instead and says so in its log. Waiting would serialise the
pipeline's executions; skipping the cache only costs speed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path


def cache_dir_name(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:16]


class ExecutionCaches:
    def __init__(self, root: Path, private_root: Path):
        self.root = root
        self.private_root = private_root
        self._locks: dict[str, int] = {}
        self._busy: set[str] = set()

    def _directory(self, path: str) -> tuple[Path, bool]:
        """The cache directory for ``path`` and whether it is the shared (locked) one."""
        name = cache_dir_name(path)
        if name in self._locks:
            return self.root / name, True
        if name not in self._busy:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._busy.add(name)
            else:
                self._locks[name] = fd
                (self.root / name).mkdir(exist_ok=True)
                return self.root / name, True
        private = self.private_root / name
        private.mkdir(parents=True, exist_ok=True)
        return private, False

    def bind(self, path: str, workspace: Path, home: Path) -> str:
        """Link the cache for ``path`` into place; returns a line for the step log."""
        if path.startswith("~/") or path.startswith("$HOME/"):
            base, target = home, home / path.split("/", 1)[1]
        elif path.startswith("/"):
            return (
                f"cache {path}: the local executor keeps only paths inside the workspace or under ~/;"
                " not cached"
            )
        else:
            base, target = workspace, workspace / path
        # ".." is refused when the file is read, but a symlink in the checkout (or one an earlier step
        # made) can still lead out: the link would then be made, and the cache written, elsewhere.
        parent, base = target.parent.resolve(), base.resolve()
        if parent != base and base not in parent.parents:
            where = "the workspace" if base == workspace.resolve() else "the home directory"
            return f"cache {path}: leads out of {where} through a symlink; not cached"
        directory, shared = self._directory(path)
        if target.is_symlink():
            if Path(os.readlink(target)) == directory:
                return f"cache {path}: in place"
            target.unlink()
        elif target.exists():
            return f"cache {path}: the checkout already has this path; not cached"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(directory, target_is_directory=True)
        if not shared:
            return f"cache {path}: in use by another execution of this pipeline; running without it"
        return f"cache {path}: restored" if any(directory.iterdir()) else f"cache {path}: empty (first use)"

    def release(self) -> None:
        for fd in self._locks.values():
            os.close(fd)
        self._locks.clear()
