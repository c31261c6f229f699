"""Cache paths as hostPath volumes: ``<cache-root>/<project>/<pipeline>/<sha256(path)[:16]>`` on the node.

The directory name is the same hash the local executor uses (``cache_dir_name``). Where a path lands
in the container: absolute paths as they are, ``~/x`` under ``/root`` (step images run as root by
default), relative paths inside the workspace.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable
from typing import Any

from .runner_script import ROOT, RUNNER_SOURCE
from .step_kinds import KANIKO_DOCKER_CONFIG, SA_TOKEN_MOUNT

# What the pod mounts for itself: a cache at or under one of these would hide it (a cache over the
# runner's markers would even carry them into the next execution on the node), and Kubernetes refuses
# two mounts at one path. The workspace itself is the pod's too (its subdirectories are fine).
RESERVED_MOUNTS = (ROOT, "/devops-cache", RUNNER_SOURCE, KANIKO_DOCKER_CONFIG, SA_TOKEN_MOUNT)


def cache_key(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def mount_path(path: str, workspace: str) -> str:
    if path.startswith("~/") or path.startswith("$HOME/"):
        return posixpath.normpath("/root/" + path.split("/", 1)[1])
    if path.startswith("/"):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(workspace, path))


def cache_mounts(
    paths: Iterable[str], cache_base: str, workspace: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(volume, volumeMount) for each cache path; one volume per distinct path across the pod."""
    out = []
    seen: set[str] = set()
    for path in paths:
        key = cache_key(path)
        if key in seen:
            continue
        seen.add(key)
        name = f"cache-{key}"
        mount = mount_path(path, workspace)
        if mount in ("/", workspace) or any(mount == r or mount.startswith(r + "/") for r in RESERVED_MOUNTS):
            raise ValueError(
                f"cache path {path!r} would be mounted at {mount}, which the executor uses itself;"
                " cache a directory inside the workspace, under ~/ or elsewhere"
            )
        volume = {"name": name, "hostPath": {"path": f"{cache_base}/{key}", "type": "DirectoryOrCreate"}}
        out.append((volume, {"name": name, "mountPath": mount}))
    return out
