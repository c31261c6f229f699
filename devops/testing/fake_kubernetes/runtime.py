"""A simulated kubelet that really runs a bound pod's containers as local process groups (no images).

Volumes become directories (emptyDir per pod; hostPath per node under ``root/nodes/<node>``; secret and
configMap as files; projected service account tokens as a fake token). There is no mount namespace, so
every container path under a volume mount, and the termination message path, is rewritten to its host
directory in command, args, env values and workingDir. ``$(VAR)`` is expanded as Kubernetes does
(``$$`` is a literal ``$``). Init containers run in order, then all containers at once; output is appended
to the pod log; states, exit codes, termination messages (4 KB) and the phase are reported through the
store. ``activeDeadlineSeconds`` kills the pod (Failed, DeadlineExceeded); deleting the pod kills it.
A container without ``command`` cannot run (there is no image entrypoint to fall back to).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

from . import kubelet
from .errors import ApiError
from .store import Event, Store

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
MESSAGE_LIMIT = 4096


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` becomes ``$``, others stay."""
    return _VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


class ProcessKubelet:
    def __init__(self, store: Store, root: str | Path, nodes: set[str] | None = None, grace_seconds: float = 2.0):
        self.store, self.root, self.nodes, self.grace = store, Path(root), nodes, grace_seconds
        self._started: set[str] = set()  # pod uids
        self._groups: dict[str, set[int]] = {}  # uid -> process group ids
        self._killed: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._unsubscribe = None

    def start(self) -> ProcessKubelet:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for pod in self.store.list("pods", field_selector="status.phase=Pending"):
            self._maybe_run(pod)
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        for uid in list(self._groups):
            self._kill(uid)
        for thread in self._threads:
            thread.join(timeout=10)

    def _on_event(self, event: Event) -> None:
        if event.rt.kind != "Pod" or event.rt.group:
            return
        if event.type == "DELETED":
            self._kill(event.obj["metadata"]["uid"])
        else:
            self._maybe_run(event.obj)

    def _maybe_run(self, pod: dict) -> None:
        node, uid = pod["spec"].get("nodeName"), pod["metadata"]["uid"]
        if not node or (self.nodes is not None and node not in self.nodes):
            return
        if (pod.get("status") or {}).get("phase", "Pending") != "Pending":
            return
        with self._lock:
            if uid in self._started:
                return
            self._started.add(uid)
            self._groups[uid] = set()
        thread = threading.Thread(target=self._run_pod, args=(pod,), name=f"kubelet-{pod['metadata']['name']}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _kill(self, uid: str) -> None:
        with self._lock:
            self._killed.add(uid)
            groups = list(self._groups.get(uid, ()))
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # --- one pod --------------------------------------------------------------------------------------
    def _run_pod(self, pod: dict) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        pod_dir = self.root / "pods" / f"{ns}_{name}_{uid[:8]}"
        deadline_timer = None
        try:
            volumes = self._volumes(pod, pod_dir)
            if spec.get("activeDeadlineSeconds"):
                deadline_timer = threading.Timer(float(spec["activeDeadlineSeconds"]), self._deadline, (pod,))
                deadline_timer.daemon = True
                deadline_timer.start()
            for container in spec.get("initContainers") or []:
                if self._run_container(pod, container, volumes, pod_dir) != 0:
                    if uid not in self._killed:
                        kubelet.set_pod_phase(self.store, ns, name, "Failed", reason="InitContainerFailed")
                    return
            threads = [threading.Thread(target=self._run_quietly, args=(pod, c, volumes, pod_dir), daemon=True)
                       for c in spec.get("containers") or []]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except ApiError:  # the pod was deleted under us
            pass
        finally:
            if deadline_timer:
                deadline_timer.cancel()
            with self._lock:
                self._groups.pop(uid, None)

    def _run_quietly(self, pod: dict, container: dict, volumes: dict[str, Path], pod_dir: Path) -> None:
        try:
            self._run_container(pod, container, volumes, pod_dir)
        except ApiError:  # the pod was deleted under us
            pass

    def _deadline(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        self._kill(uid)
        try:
            kubelet.set_pod_phase(self.store, pod["metadata"]["namespace"], pod["metadata"]["name"], "Failed",
                                  reason="DeadlineExceeded",
                                  message="Pod was active on the node longer than the specified deadline")
        except ApiError:
            pass

    def _volumes(self, pod: dict, pod_dir: Path) -> dict[str, Path]:
        ns, node = pod["metadata"]["namespace"], pod["spec"]["nodeName"]
        out: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes") or []:
            if "hostPath" in volume:
                path = self.root / "nodes" / node / volume["hostPath"]["path"].lstrip("/")
            else:
                path = pod_dir / "volumes" / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            files: dict[str, bytes] = {}
            if "secret" in volume:
                data = self._get("secrets", volume["secret"].get("secretName"), ns).get("data") or {}
                files = {k: base64.b64decode(v) for k, v in data.items()}
                files = self._items(files, volume["secret"].get("items"))
            elif "configMap" in volume:
                data = self._get("configmaps", volume["configMap"].get("name"), ns).get("data") or {}
                files = self._items({k: v.encode() for k, v in data.items()}, volume["configMap"].get("items"))
            elif "projected" in volume:
                for source in volume["projected"].get("sources") or []:
                    if "serviceAccountToken" in source:
                        files[source["serviceAccountToken"].get("path", "token")] = b"fake-service-account-token"
            for rel, content in files.items():
                (path / rel).parent.mkdir(parents=True, exist_ok=True)
                (path / rel).write_bytes(content)
            out[volume["name"]] = path
        return out

    def _get(self, resource: str, name: str | None, ns: str) -> dict:
        try:
            return self.store.get(resource, name or "", ns)
        except ApiError:
            return {}

    @staticmethod
    def _items(files: dict[str, bytes], items: list[dict] | None) -> dict[str, bytes]:
        if not items:
            return files
        return {item.get("path", item["key"]): files[item["key"]] for item in items if item["key"] in files}

    def _env(self, pod: dict, container: dict) -> dict[str, str]:
        ns, meta = pod["metadata"]["namespace"], pod["metadata"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root", "HOSTNAME": meta["name"]}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                data = self._get("configmaps", source["configMapRef"].get("name"), ns).get("data") or {}
                env.update({prefix + k: v for k, v in data.items()})
            elif "secretRef" in source:
                data = self._get("secrets", source["secretRef"].get("name"), ns).get("data") or {}
                env.update({prefix + k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()})
        fields = {"metadata.name": meta["name"], "metadata.namespace": ns, "metadata.uid": meta["uid"],
                  "spec.nodeName": pod["spec"].get("nodeName", ""), "status.podIP": "10.244.0.10",
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                  "status.hostIP": "10.0.0.1"}
        for var in container.get("env") or []:
            if "value" in var:
                env[var["name"]] = expand(str(var["value"]), env)
                continue
            ref = var.get("valueFrom") or {}
            if "fieldRef" in ref:
                path = ref["fieldRef"]["fieldPath"]
                label = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
                env[var["name"]] = (meta.get(label.group(1)) or {}).get(label.group(2), "") if label else \
                    fields.get(path, "")
            elif "secretKeyRef" in ref:
                data = self._get("secrets", ref["secretKeyRef"].get("name"), ns).get("data") or {}
                value = data.get(ref["secretKeyRef"]["key"])
                env[var["name"]] = base64.b64decode(value).decode(errors="replace") if value else ""
            elif "configMapKeyRef" in ref:
                data = self._get("configmaps", ref["configMapKeyRef"].get("name"), ns).get("data") or {}
                env[var["name"]] = data.get(ref["configMapKeyRef"]["key"], "")
            else:
                env[var["name"]] = ""
        return env

    def _run_container(self, pod: dict, container: dict, volumes: dict[str, Path], pod_dir: Path) -> int:
        ns, name, uid = pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"]
        cname = container["name"]
        cdir = pod_dir / "containers" / cname
        cdir.mkdir(parents=True, exist_ok=True)
        message_path = container.get("terminationMessagePath") or "/dev/termination-log"
        host_message = cdir / "termination-log"
        mounts = [(m["mountPath"].rstrip("/") or "/", volumes[m["name"]] / m.get("subPath", ""))
                  for m in container.get("volumeMounts") or [] if m["name"] in volumes and m["mountPath"] != "/"]
        mounts.append((message_path, host_message))
        mounts.sort(key=lambda pair: len(pair[0]), reverse=True)

        def translate(text: str) -> str:
            for mount_path, host in mounts:
                text = re.sub(re.escape(mount_path) + r"(?=/|$|[^\w.-])", lambda _m, h=str(host): h, text)
            return text

        env = {k: translate(v) for k, v in self._env(pod, container).items()}
        words = (container.get("command") or []) + (container.get("args") or [])
        argv = [translate(expand(str(word), env)) for word in words]
        if not container.get("command"):
            kubelet.set_container_state(self.store, ns, name, cname, "waiting", reason="RunContainerError",
                                        message="the fake kubelet has no image entrypoint: set command")
            return 128
        cwd = Path(translate(container["workingDir"])) if container.get("workingDir") else cdir
        cwd.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if uid in self._killed:
                return 137
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self._groups.setdefault(uid, set()).add(proc.pid)
        kubelet.set_container_state(self.store, ns, name, cname, "running")
        tail = bytearray()
        while chunk := proc.stdout.read1(65536):
            self.store.append_log(ns, name, cname, chunk.decode(errors="replace"))
            tail = (tail + chunk)[-2048:]
        code = proc.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + signal number, as a runtime reports
        message = host_message.read_bytes()[:MESSAGE_LIMIT].decode(errors="replace") if host_message.exists() else ""
        if not message and code and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = tail.decode(errors="replace")
        kubelet.set_container_state(self.store, ns, name, cname, "terminated", exit_code=code,
                                    reason="Error" if code else "Completed", message=message or None)
        return code
