"""The sync: pods → step and execution states, stored logs, then pod deletion.

Stateless between ticks, so any worker can run any tick: one list call per namespace (pods selected by
the project label), never one call per execution. A finished step's log is read from the pod log API,
masked and stored before the engine hears the step's final state; a finished pod is deleted only after
every log of it is stored, so a log never goes with its pod.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devops import engine
from devops.executors.base import StepStatus
from devops.executors.environment import publish_destination
from devops.logs import LogStore, SecretMasker, log_key
from devops.models import PipelineExecution, StepRun
from devops.ops.metrics import count_api_error
from devops.pipeline_config import PipelineSpec
from devops.selectors import project_settings
from devops.states import ACTIVE_STATES, FINAL_STATES, State

from . import names
from .pod import step_plain_env
from .preload import create_preload, image_pull_job
from .status import read_pod
from .variables import local_registry, pod_variables

log = logging.getLogger(__name__)


@dataclass
class SyncStats:
    list_calls: int = 0
    log_calls: int = 0
    finished: int = 0


def step_log_key(execution: PipelineExecution, stage_index: int, step_index: int) -> str:
    return log_key(execution.project.name, str(execution.pipeline_id), execution.run, stage_index, step_index)


def mask_all(data: bytes, secrets: Iterable[str]) -> bytes:
    masker = SecretMasker(secrets)
    return masker.feed(data) + masker.flush()


class PodSync:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        store: LogStore,
        secrets_for: Callable[[PipelineExecution], set[str]] | None = None,
        on_node: Callable[[int, str], None] | None = None,
        discovery_cache: str | None = None,
    ):
        self.core = client.CoreV1Api(api)
        self.store = store
        # Asked only when a log is stored: most ticks store nothing, and the lookup costs queries.
        self.secrets_for = secrets_for or (lambda execution: set())
        self._secrets: dict[int, set[str]] = {}
        self.on_node = on_node  # (pipeline id, node): remembered for the next executions' affinity
        self.discovery_cache = discovery_cache  # the dynamic client's API discovery cache file
        self.stats = SyncStats()
        self._states: dict[int, dict[tuple[int, int], tuple[str, str]]] = {}  # (state, kind) per step

    def tick(self, executions: Iterable[PipelineExecution]) -> SyncStats:
        by_namespace: dict[str, list[PipelineExecution]] = defaultdict(list)
        for execution in executions:
            by_namespace[names.namespace(execution.project.name)].append(execution)
        for namespace, group in by_namespace.items():
            selector = f"{names.LABEL_PROJECT}={names.label_value(group[0].project.name)}"
            self.stats.list_calls += 1
            # Raw JSON: building the client's typed models costs more than the whole tick otherwise.
            response = self.core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)
            pods = json.loads(response.data)["items"]
            by_execution = {(p["metadata"].get("labels") or {}).get(names.LABEL_EXECUTION): p for p in pods}
            self._states = defaultdict(dict)
            # A join, not an IN list of ids: Django prepares every element of a long IN list one by one.
            rows = StepRun.objects.filter(execution__project_id=group[0].project_id,
                                          execution__state__in=ACTIVE_STATES)  # fmt: skip
            fields = ("execution_id", "stage_index", "index", "state", "kind")
            for execution_id, si, sj, state, kind in rows.values_list(*fields):
                self._states[execution_id][(si, sj)] = (state, kind)
            for execution in group:
                self.sync_one(execution, by_execution.get(names.label_value(execution.execution_id)))
        return self.stats

    def sync_one(self, execution: PipelineExecution, pod: dict[str, Any] | None) -> None:
        if pod is None:
            if execution.state == State.BUILDING:
                engine.finish(execution.pk, State.FAILED, "the execution's pod disappeared")
            return
        report = read_pod(pod)
        started = report.node and execution.state == State.WAITING
        if started and engine.mark_building(execution.pk, node=report.node) and self.on_node is not None:
            self.on_node(execution.pipeline_id, report.node)
        states = self._states.get(execution.pk)
        if states is None:  # called on its own, outside a tick
            rows = StepRun.objects.filter(execution=execution).values_list("stage_index", "index", "state", "kind")
            states = {(si, sj): (state, kind) for si, sj, state, kind in rows}
        for status in report.steps:
            known, kind = states.get((status.stage_index, status.step_index), (None, ""))
            if known is not None and known not in FINAL_STATES:
                self._apply(execution, pod, status, known, kind, report.node)
        if report.outcome is not None:
            state, reason = report.outcome
            self.store_all_logs(execution, pod)  # steps still running when the pod ends keep theirs too
            if engine.finish(execution.pk, state, reason):
                self.stats.finished += 1
            self.delete(pod)

    def store_all_logs(self, execution: PipelineExecution, pod: dict[str, Any]) -> None:
        for status in read_pod(pod).steps:
            if status.state not in (State.WAITING, State.SKIPPED):
                self._store_log(execution, pod, status)

    def _apply(self, execution: PipelineExecution, pod: dict[str, Any], status: StepStatus, known: str, kind: str,
               node: str) -> None:  # fmt: skip
        eid, si, sj = execution.pk, status.stage_index, status.step_index
        if status.state == State.SKIPPED:
            engine.step_finished(eid, si, sj, State.SKIPPED, reason=status.reason)
            return
        if status.state == State.WAITING:
            return
        if known == State.WAITING:
            engine.stage_started(eid, si)
            engine.step_started(eid, si, sj, pid=None, host=node, log_key=step_log_key(execution, si, sj))
        if status.state in FINAL_STATES:
            # Only a publish step can ask for a preload: no need to read the config for the others.
            note = self._preload(execution, status) if kind == "publishImage" and status.state == State.SUCCESS else ""
            self._store_log(execution, pod, status, note)
            engine.step_finished(eid, si, sj, status.state, exit_code=status.exit_code, reason=status.reason)
            self._finish_stage_if_done(eid, si)

    @staticmethod
    def _finish_stage_if_done(execution_id: int, stage_index: int) -> None:
        states = set(StepRun.objects.filter(execution_id=execution_id, stage_index=stage_index)
                     .values_list("state", flat=True))  # fmt: skip
        if states <= FINAL_STATES:
            failed = states & {State.FAILED, State.ABORTED}
            engine.stage_finished(execution_id, stage_index, State.FAILED if failed else State.SUCCESS)

    def _preload(self, execution: PipelineExecution, status: StepStatus) -> str:
        """After a publish step with ``preload:``, warm the pushed image on nodes (a line for its log)."""
        full = PipelineExecution.objects.select_related("project", "pipeline").get(pk=execution.pk)
        step = PipelineSpec.from_dict(full.config).stages[status.stage_index].steps[status.step_index]
        if step.kind != "publishImage" or step.config.preload is None:
            return ""
        settings = project_settings(full.project)
        env = step_plain_env(step, pod_variables(full, settings), {})
        image, _, _ = publish_destination(step, env, local_registry(full.project.name))
        job = image_pull_job(step, image, namespace=names.namespace(full.project.name),
                             labels=names.labels(project=full.project.name, pipeline=full.pipeline.name,
                                                 execution_id=full.execution_id, run=full.run))  # fmt: skip
        return create_preload(self.core.api_client, job, cache_file=self.discovery_cache)

    def _store_log(self, execution: PipelineExecution, pod: dict[str, Any], status: StepStatus,
                   note: str = "") -> None:  # fmt: skip
        key = step_log_key(execution, status.stage_index, status.step_index)
        if self.store.size(key) is not None:
            return
        data = self.read_container_log(pod, names.container_name(status.stage_index, status.step_index))
        with tempfile.NamedTemporaryFile(prefix="steplog-") as spool:
            if execution.pk not in self._secrets:
                self._secrets[execution.pk] = self.secrets_for(execution)
            if note:
                data += (b"" if not data or data.endswith(b"\n") else b"\n") + f"[devops] {note}\n".encode()
            spool.write(mask_all(data, self._secrets[execution.pk]))
            spool.flush()
            self.store.put_file(key, Path(spool.name))

    def read_container_log(self, pod: dict[str, Any], container: str) -> bytes:
        self.stats.log_calls += 1
        meta = pod["metadata"]
        try:
            response = self.core.read_namespaced_pod_log(
                meta["name"], meta["namespace"], container=container, _preload_content=False
            )
            return response.data
        except ApiException as exc:
            count_api_error("read_pod_log", exc)
            if exc.status in (400, 404):  # never started, or already gone
                return b""
            raise

    def delete(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0)
        except ApiException as exc:
            count_api_error("delete_pod", exc)
            if exc.status != 404:
                raise
