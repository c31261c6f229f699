"""A simulated kubelet that really runs each container's command as local processes.

    kubelet = ProcessKubelet(server, "node-1", tmp_path).start()   # or a list of node names
    ...                                                            # pods bound to node-1 now run
    kubelet.stop()                                                 # kills everything it started

For every pod bound to one of its nodes (it binds unscheduled pods to its first node itself unless
``bind_unscheduled=False``, e.g. when a ``scheduler.Scheduler`` runs): one directory per volume (emptyDir,
secret, configMap, projected: under the pod's directory; hostPath: under ``root/nodes/<node>/`` mirroring
the host path, so caches outlive the pod on that node), init containers one by one to completion, then
every container at once, each a process group of its own (``start_new_session``). The image is ignored:
``/bin/sh``, ``git``, ``make`` are the host's. Command and args get Kubernetes' ``$(NAME)``/``$$``
expansion from the container's env (``value``, ``secretKeyRef``/``configMapKeyRef`` read from the store,
``optional`` ones left unset when missing), and every mount path in them, in env values and in
``workingDir`` is rewritten to its local directory (a mount inside another becomes a symlink there);
``DEVOPS_RUNNER_ROOT`` and ``DEVOPS_TERMINATION_LOG`` point the step runner at the local ``/devops`` and
at the container's termination-message file. Output (stdout and stderr) is appended to the pod log as it
comes; states go through ``kubelet.set_container_state`` (terminated with the exit code and at most 4 KiB
of termination message). Deleting the pod kills its processes at once; ``activeDeadlineSeconds`` kills
them and fails the pod with reason ``DeadlineExceeded``.
"""

from __future__ import annotations

import codecs
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

from . import kubelet
from .errors import ApiError
from .process_env import (
    ConfigError,
    PathMap,
    ProcessTree,
    container_env,
    expand,
    local_argv,
    make_volume,
    mount_dirs,
    process_env,
    process_table,
    read_termination_message,
)  # fmt: skip
from .store import Event, Store

log = logging.getLogger(__name__)
TICK = 0.05
RUNNER_ROOT = "/devops"  # where the step runner's emptyDir is mounted (runner_script.ROOT)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N: 128 + N


class Container:
    """One running container: its process, what it started, and the thread copying its output."""

    def __init__(self, runner: PodRunner, spec: dict, init: bool):
        self.runner, self.spec, self.name, self.init = runner, spec, spec["name"], init
        self.proc: subprocess.Popen | None = None
        self.tree: ProcessTree | None = None
        self.reader: threading.Thread | None = None
        self.reported = False
        self.termination_log = runner.pod_dir / "termination" / self.name

    def start(self) -> None:
        runner = self.runner
        env = container_env(runner.store, runner.pod, self.spec)  # ConfigError: not started at all
        mounts = mount_dirs(self.spec, runner.volumes, str(runner.home))
        paths = PathMap(mounts)
        self.termination_log.parent.mkdir(parents=True, exist_ok=True)
        self.termination_log.write_bytes(b"")
        local_env = process_env(env, paths, str(runner.home))
        local_env["DEVOPS_TERMINATION_LOG"] = str(self.termination_log)
        if RUNNER_ROOT in mounts:
            local_env["DEVOPS_RUNNER_ROOT"] = mounts[RUNNER_ROOT]
        argv = [paths.rewrite(expand(a, env)) for a in (self.spec.get("command") or []) + (self.spec.get("args") or [])]
        if not argv:
            raise ConfigError("no command: the image's entrypoint cannot run without the image")
        workdir = paths.rewrite(self.spec.get("workingDir") or "") or str(runner.home)
        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            local_argv(argv), cwd=workdir, env=local_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.tree = ProcessTree(self.proc.pid)
        self.reader = threading.Thread(target=self._copy_output, name=f"log-{self.name}", daemon=True)
        self.reader.start()
        runner.report(self.name, "running")

    def _copy_output(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            text = decoder.decode(chunk)
            if text:
                self.runner.append_log(self.name, text)
        if tail := decoder.decode(b"", final=True):
            self.runner.append_log(self.name, tail)
        self.proc.stdout.close()

    def finished(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def kill(self) -> None:
        if self.tree is not None:
            self.tree.kill()

    def finish(self, reason: str | None = None) -> None:
        """The main process ended (or is being ended): stop what it left, drain its output, report."""
        if self.reported or self.proc is None:
            return
        self.kill()  # a container ends with everything in it
        code = _exit_code(self.proc.wait())
        if self.reader is not None:
            self.reader.join(timeout=2)
        message = read_termination_message(self.termination_log)
        self.reported = True
        self.runner.report(self.name, "terminated", exit_code=code, reason=reason, message=message)


class PodRunner(threading.Thread):
    """Runs one pod on one node: volumes, init containers, containers, deadline, deletion."""

    def __init__(self, owner: ProcessKubelet, pod: dict):
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}-{meta['name']}", daemon=True)
        self.store, self.pod = owner.store, pod
        self.namespace, self.pod_name = meta["namespace"], meta["name"]
        self.pod_dir = owner.root / "pods" / f"{self.namespace}_{self.pod_name}_{meta.get('uid', '')}"
        self.node_dir = owner.root / "nodes" / pod["spec"]["nodeName"]
        self.home = self.pod_dir / "home"
        self.volumes: dict[str, Path] = {}
        self.containers: list[Container] = []
        self.deleted = threading.Event()
        self.lock = threading.Lock()

    # --- reporting (the pod may be gone: then there is nobody to tell) --------------------------------
    def report(self, container: str, state: str, **kwargs) -> None:
        if self.deleted.is_set():
            return
        try:
            kubelet.set_container_state(self.store, self.namespace, self.pod_name, container, state, **kwargs)
        except ApiError:
            pass

    def append_log(self, container: str, text: str) -> None:
        if not self.deleted.is_set():
            self.store.append_log(self.namespace, self.pod_name, container, text)

    # --- the pod's life --------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a simulation bug must not pass silently, nor kill the kubelet
            log.exception("process kubelet: pod %s/%s failed", self.namespace, self.pod_name)
            self.kill_all()

    def _run(self) -> None:
        spec = self.pod["spec"]
        self.home.mkdir(parents=True, exist_ok=True)
        for volume in spec.get("volumes") or []:
            self.volumes[volume["name"]] = make_volume(self.store, self.pod, volume, self.pod_dir, self.node_dir)
        deadline_seconds = spec.get("activeDeadlineSeconds")
        deadline = time.monotonic() + deadline_seconds if deadline_seconds else None
        for init_spec in spec.get("initContainers") or []:
            container = self._launch(init_spec, init=True)
            if container is None or not self._wait([container], deadline):
                return
            if container.proc is not None and container.proc.returncode != 0:
                return  # the pod failed (phase follows the init container's state)
        running = [c for c in (self._launch(s, init=False) for s in spec.get("containers") or []) if c is not None]
        self._wait(running, deadline)

    def _launch(self, spec: dict, init: bool) -> Container | None:
        container = Container(self, spec, init)
        with self.lock:
            if self.deleted.is_set():
                return None
            self.containers.append(container)
            try:
                container.start()
            except (ConfigError, OSError) as exc:
                reason = "CreateContainerConfigError" if isinstance(exc, ConfigError) else "CreateContainerError"
                self.report(container.name, "waiting", reason=reason, message=str(exc))
                return None
        return container

    def _wait(self, containers: list[Container], deadline: float | None) -> bool:
        """Until every container ended (True), or the pod was deleted or ran out of time (False)."""
        ticks = 0
        while True:
            if self.deleted.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                self._deadline_exceeded()
                return False
            pending = [c for c in containers if not c.reported]
            if not pending:
                return True
            if ticks % 4 == 0:  # learn new process groups and sessions while their parents still live
                table = process_table()
                for c in pending:
                    if c.tree is not None:
                        c.tree.learn(table)
            for c in pending:
                if c.finished():
                    c.finish()
            ticks += 1
            time.sleep(TICK)

    def _deadline_exceeded(self) -> None:
        seconds = self.pod["spec"].get("activeDeadlineSeconds")
        # The reason first: the container states that follow keep it (only the phase is recomputed).
        try:
            kubelet.set_pod_phase(
                self.store,
                self.namespace,
                self.pod_name,
                "Failed",
                reason="DeadlineExceeded",
                message=f"Pod was active on the node longer than the specified deadline ({seconds}s)",
            )
        except ApiError:
            pass
        for container in list(self.containers):
            container.finish(reason="DeadlineExceeded")

    def kill_all(self) -> None:
        with self.lock:
            containers = list(self.containers)
        for container in containers:
            container.kill()

    def delete(self) -> None:
        """The pod is gone from the API: kill at once, then drop its emptyDirs."""
        with self.lock:
            self.deleted.set()
        self.kill_all()
        self.join(timeout=5)
        for container in list(self.containers):  # reap them: no zombies left behind
            if container.proc is not None:
                try:
                    container.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
        shutil.rmtree(self.pod_dir, ignore_errors=True)


class ProcessKubelet:
    def __init__(self, server_or_store, nodes: str | list[str] | tuple[str, ...], root_dir: str | os.PathLike,
                 *, bind_unscheduled: bool = True, add_nodes: bool = True):  # fmt: skip
        self.store: Store = getattr(server_or_store, "store", server_or_store)
        self.nodes = [nodes] if isinstance(nodes, str) else list(nodes)
        self.root = Path(root_dir)
        self.bind_unscheduled = bind_unscheduled
        self.add_nodes = add_nodes
        self.runners: dict[tuple[str, str], PodRunner] = {}
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._unsubscribe = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProcessKubelet:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> ProcessKubelet:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.add_nodes:
            for node in self.nodes:
                if not self.store.exists("nodes", node):
                    kubelet.add_node(self.store, node)
        self._unsubscribe = self.store.subscribe(self._events.put)
        self._thread = threading.Thread(target=self._loop, name="process-kubelet", daemon=True)
        self._thread.start()
        for pod in self.store.list("pods"):  # those already there
            self._events.put(Event(0, "ADDED", self.store.resolve("pods"), pod))
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread:
            self._events.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        for runner in list(self.runners.values()):
            runner.delete()
        self.runners.clear()

    def _loop(self) -> None:
        while (event := self._events.get()) is not None:
            if event.rt.kind != "Pod" or event.rt.group:
                continue
            try:
                self._handle(event)
            except Exception:  # noqa: BLE001 - keep serving the other pods
                log.exception("process kubelet: event %s failed", event.type)

    def _handle(self, event: Event) -> None:
        meta, spec = event.obj["metadata"], event.obj.get("spec") or {}
        key = (meta["namespace"], meta["name"])
        if event.type == "DELETED":
            runner = self.runners.pop(key, None)
            if runner is not None and runner.pod["metadata"].get("uid") == meta.get("uid"):
                runner.delete()
            elif runner is not None:
                self.runners[key] = runner
            return
        node = spec.get("nodeName")
        if not node:
            if self.bind_unscheduled and self.nodes and event.type == "ADDED":
                try:
                    kubelet.bind(self.store, key[0], key[1], self.nodes[0])
                except ApiError:
                    pass
            return
        if node not in self.nodes or key in self.runners:
            return
        phase = (event.obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        runner = PodRunner(self, event.obj)
        self.runners[key] = runner
        runner.start()
