"""Helpers of the process kubelet (``process_kubelet.py``): volumes as local directories, a container's
argv and environment as a local process sees them, and killing a container's processes.

Nothing here talks HTTP: values come from the fake store (Secrets, ConfigMaps) as plain dicts.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any

from .errors import ApiError
from .store import Store

# Kubernetes' expansion in command, args and env values: ``$$`` is ``$``, ``$(NAME)`` a defined variable.
_EXPANSION = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
# What a local process inherits from the host (an image would bring its own PATH, locale...).
HOST_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
TERMINATION_LOG_LIMIT = 4096  # the kubelet reads at most this much of the termination message


class ConfigError(Exception):
    """A container that cannot be created (CreateContainerConfigError: a missing secret or key)."""


def expand(text: str, env: dict[str, str]) -> str:
    """``$$`` → ``$``, ``$(NAME)`` → its value when defined, else kept as written (as Kubernetes does)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _EXPANSION.sub(one, text)


class PathMap:
    """Rewrites absolute mount paths (``/workspace``, ``/devops``, ``/devops-cache/kaniko``) to local dirs."""

    def __init__(self, mounts: dict[str, str]):
        self.mounts = dict(sorted(mounts.items(), key=lambda item: -len(item[0])))
        alternatives = "|".join(re.escape(path.rstrip("/")) for path in self.mounts)
        self._pattern = re.compile(rf"(?<![\w.\-])({alternatives})(?![\w.\-])") if alternatives else None

    def rewrite(self, text: str) -> str:
        if self._pattern is None:
            return text
        lookup = {path.rstrip("/"): local for path, local in self.mounts.items()}
        return self._pattern.sub(lambda m: lookup[m.group(1)], text)


def _secret_data(store: Store, namespace: str, name: str) -> dict[str, str] | None:
    try:
        secret = store.get("secrets", name, namespace)
    except ApiError:
        return None
    data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}
    return {**data, **(secret.get("stringData") or {})}


def _config_map_data(store: Store, namespace: str, name: str) -> dict[str, str] | None:
    try:
        return dict(store.get("configmaps", name, namespace).get("data") or {})
    except ApiError:
        return None


def _value_from(store: Store, pod: dict, source: dict[str, Any]) -> str | None:
    namespace = pod["metadata"]["namespace"]
    for field, reader in (("secretKeyRef", _secret_data), ("configMapKeyRef", _config_map_data)):
        if field in source:
            ref = source[field]
            data = reader(store, namespace, ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError(f"{field} {ref['name']}/{ref['key']} not found")
            return data[ref["key"]]
    if "fieldRef" in source:
        path = source["fieldRef"]["fieldPath"]
        fields = {"metadata.name": pod["metadata"]["name"], "metadata.namespace": namespace,
                  "metadata.uid": pod["metadata"].get("uid", ""), "spec.nodeName": pod["spec"].get("nodeName", ""),
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                  "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1"}  # fmt: skip
        return fields.get(path, "")
    return None


def container_env(store: Store, pod: dict, container: dict) -> dict[str, str]:
    """The container's env in order: ``value`` (with ``$(NAME)`` of earlier entries) or ``valueFrom``."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
        elif "valueFrom" in item:
            value = _value_from(store, pod, item["valueFrom"])
            if value is not None:
                env[item["name"]] = value
        else:
            env[item["name"]] = ""
    return env


def process_env(env: dict[str, str], paths: PathMap, home: str) -> dict[str, str]:
    """What the local process gets: a few host variables, a HOME of the pod's own, the rewritten env."""
    base = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
    base["HOME"] = home
    return {**base, **{k: paths.rewrite(v) for k, v in env.items()}}


def local_argv(argv: list[str]) -> list[str]:
    """The image's tools are the host's: ``/busybox/sh`` (absent here) becomes the host's ``sh``."""
    if argv and argv[0].startswith("/") and not os.path.exists(argv[0]):
        found = shutil.which(os.path.basename(argv[0]))
        if found:
            return [found, *argv[1:]]
    return argv


# --- volumes ------------------------------------------------------------------------------------------
def _write_items(target: Path, data: dict[str, str], items: list[dict] | None) -> None:
    chosen = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
    for key, rel in chosen:
        if key in data:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(data[key])


def make_volume(store: Store, pod: dict, volume: dict, pod_dir: Path, node_dir: Path) -> Path:
    """A local directory standing in for one volume. hostPath lives under the node's directory, so what a
    pod leaves there (caches) is found by the next pod on that node."""
    if "hostPath" in volume:
        path = node_dir / volume["hostPath"]["path"].lstrip("/")
        if volume["hostPath"].get("type", "") not in ("File", "FileOrCreate", "Socket", "CharDevice", "BlockDevice"):
            path.mkdir(parents=True, exist_ok=True)
        return path
    path = pod_dir / "volumes" / volume["name"]
    path.mkdir(parents=True, exist_ok=True)
    namespace = pod["metadata"]["namespace"]
    if "secret" in volume:
        data = _secret_data(store, namespace, volume["secret"]["secretName"]) or {}
        _write_items(path, data, volume["secret"].get("items"))
    elif "configMap" in volume:
        data = _config_map_data(store, namespace, volume["configMap"]["name"]) or {}
        _write_items(path, data, volume["configMap"].get("items"))
    elif "projected" in volume:
        for source in volume["projected"].get("sources") or []:
            if "serviceAccountToken" in source:
                (path / source["serviceAccountToken"]["path"]).write_text("fake-service-account-token")
            elif "configMap" in source:
                data = _config_map_data(store, namespace, source["configMap"]["name"]) or {}
                _write_items(path, data, source["configMap"].get("items"))
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    value = _value_from(store, pod, {"fieldRef": item["fieldRef"]}) if "fieldRef" in item else ""
                    (path / item["path"]).write_text(value or "")
    return path


def mount_dirs(container: dict, volumes: dict[str, Path], home: str) -> dict[str, str]:
    """mountPath → local path. A mount inside another one (a cache under /workspace) becomes a symlink
    in the outer mount's directory, so both the path and the tree lead to the same place. ``/root`` (the
    home of the root user step images run as) is the pod's local HOME, so ``~/.m2`` caches work too."""
    mounts = {m["mountPath"].rstrip("/") or "/": m for m in container.get("volumeMounts") or []}
    local: dict[str, str] = {} if "/root" in mounts else {"/root": home}
    for path in sorted(mounts, key=len):
        target = volumes[mounts[path]["name"]]
        if mounts[path].get("subPath"):
            target = target / mounts[path]["subPath"]
            target.mkdir(parents=True, exist_ok=True)
        outer = max((p for p in local if path.startswith(p + "/")), key=len, default=None)
        if outer is None:
            local[path] = str(target)
            continue
        link = Path(local[outer]) / path[len(outer) + 1 :]
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            if link.is_dir():
                link.rmdir()  # an empty directory some other container's mount made
            try:
                link.symlink_to(target, target_is_directory=True)
            except FileExistsError:  # another container of the pod made the same link meanwhile
                pass
        local[path] = str(link)
    return local


def read_termination_message(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(TERMINATION_LOG_LIMIT)
    except OSError:
        return None
    return data.decode("utf-8", "replace") or None


# --- processes ----------------------------------------------------------------------------------------
def process_table() -> dict[int, tuple[int, int, int]]:
    """pid → (ppid, pgid, sid) of every live (non-zombie) process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


class ProcessTree:
    """Every process group and session a container started (its runner runs the step under ``setsid``),
    learnt while it runs, so killing it reaches processes whose parent already went."""

    def __init__(self, pid: int):
        self.pid = pid
        self.groups: set[int] = {pid}
        self.sessions: set[int] = {pid}

    def learn(self, table: dict[int, tuple[int, int, int]]) -> None:
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = [p for p, (_, pgid, sid) in table.items() if pgid in self.groups or sid in self.sessions]
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            _, pgid, sid = table[pid]
            self.groups.add(pgid)
            self.sessions.add(sid)
            stack.extend(children.get(pid, ()))
        mine = os.getpgid(0), os.getsid(0)
        self.groups.discard(mine[0])
        self.sessions.discard(mine[1])

    def members(self, table: dict[int, tuple[int, int, int]]) -> list[int]:
        me = os.getpid()
        return [p for p, (_, pgid, sid) in table.items()
                if p != me and (pgid in self.groups or sid in self.sessions)]  # fmt: skip

    def kill(self, rounds: int = 5) -> None:
        """SIGKILL everything the container started, as a kubelet ending a container does."""
        for _ in range(rounds):
            table = process_table()
            self.learn(table)
            alive = self.members(table)
            if not alive:
                return
            for pgid in self.groups:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
