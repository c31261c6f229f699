"""Log keys: how a step's log is named, and which names a store accepts.

Keys end up as filesystem paths (FilesystemLogStore, FilesystemLiveLog) and as object names (S3), so
one shared validator keeps a key that is safe for one store safe for all of them: a key that could
escape the store's root (``..``, an absolute path, a backslash that Windows-ish tooling treats as a
separator) or smuggle control characters into a path is rejected with ValueError rather than
"cleaned", because silently rewriting a key would make two different logs collide.
"""

from __future__ import annotations

import re

__all__ = ["log_key", "validate_key", "validate_prefix"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_part(part: str, what: str) -> None:
    """Raise ValueError unless ``part`` is one safe path segment.

    Segments starting with ``.`` are refused too: they are reserved for the stores' own temporary
    files, and no generated key (slugs, numbers) ever needs them.
    """
    if not part:
        raise ValueError(f"{what}: empty path segment")
    if part.startswith(".") or ".." in part:
        raise ValueError(f"{what}: segment {part!r} must not start with '.' or contain '..'")
    if "/" in part or "\\" in part:
        raise ValueError(f"{what}: segment {part!r} must not contain '/' or '\\'")
    if _CONTROL.search(part):
        raise ValueError(f"{what}: segment {part!r} contains control characters")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative, slash-separated key; else ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("log key must be a non-empty string")
    if key.startswith("/"):
        raise ValueError(f"log key {key!r} must be relative")
    if "\\" in key:
        raise ValueError(f"log key {key!r} must not contain backslashes")
    for part in key.split("/"):
        _check_part(part, f"log key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Validate a key prefix for bulk deletion.

    A prefix is a key, optionally ending in ``/`` (a "directory"), or a leading part of a key's last
    segment (e.g. ``proj/pipe/3/0-``). The empty prefix is refused: "delete everything" should never
    be one typo away.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError("prefix must be a non-empty string (refusing to delete every log)")
    validate_key(prefix.removesuffix("/"))
    return prefix


def log_key(project: str, pipeline: str, run: int, stage_index: int, step_index: int) -> str:
    """The key of one step's log: ``<project>/<pipeline>/<run>/<stage>-<step>.log``.

    One key per step keeps a run's logs under one prefix, so expiring a run (or a pipeline, or a
    project) is a single ``delete_prefix``.
    """
    for value, what in ((project, "project"), (pipeline, "pipeline")):
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a string, got {type(value).__name__}")
        _check_part(value, what)
    for value, what in ((run, "run"), (stage_index, "stage_index"), (step_index, "step_index")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{what} must be a non-negative int, got {value!r}")
    return f"{project}/{pipeline}/{run}/{stage_index}-{step_index}.log"
