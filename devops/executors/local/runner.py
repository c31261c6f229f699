"""The local runner: one execution on the worker host.

Stages run in order; the steps of a stage run at once, each a process group in the shared workspace.
The runner is the only reporter for its execution: it calls the engine for every step and stage
change, and beats a heartbeat that doubles as its abort signal (a heartbeat that no longer finds the
execution ``Building`` means someone else ended it).
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from devops import engine
from devops.executors.environment import (
    SecretBook,
    StepSetupError,
    base_variables,
    host_base_env,
    step_environment,
)
from devops.logs import StepLogWriter, get_live_log, get_log_store, log_key
from devops.models import PipelineExecution, RegistryCredential, StepRun
from devops.pipeline_config import PipelineSpec, Stage, Step
from devops.scm.access import git_auth
from devops.selectors import project_settings
from devops.states import State

from .caches import ExecutionCaches
from .commands import CloneSource, build_command
from .process import StepProcess
from .reconnect import with_reconnect

log = logging.getLogger(__name__)


def execution_dir(execution: PipelineExecution) -> Path:
    return Path(settings.WORKSPACE_ROOT) / execution.project.name / str(execution.pipeline_id) / str(execution.run)


def run_execution(execution_id: int) -> None:
    execution = (
        PipelineExecution.objects.select_related("project", "pipeline", "pipeline__credential")
        .filter(pk=execution_id)
        .first()
    )
    if execution is None or execution.state != State.WAITING:
        return
    ExecutionRunner(execution).run()


@dataclass
class RunningStep:
    stage_index: int
    step_index: int
    step: Step
    proc: StepProcess
    writer: StepLogWriter
    deadline: float
    deadline_reason: str
    exports: dict[str, str]


class ExecutionRunner:
    def __init__(self, execution: PipelineExecution):
        self.execution = execution
        self.eid = execution.pk
        self.spec = PipelineSpec.from_dict(execution.config)
        self.host = socket.gethostname()
        base = execution_dir(execution)
        self.workspace, self.home, self.private = base / "workspace", base / "home", base / "private"
        self.stopped = threading.Event()
        self.stop_reason = ""
        self.live, self.store = get_live_log(), get_log_store()

    # --- the whole execution -------------------------------------------------------------------
    def run(self) -> None:
        if not with_reconnect(engine.mark_building, self.eid, node=self.host):
            return
        self.started = time.monotonic()
        self.deadline = self.started + self.spec.timeout_minutes * 60
        beat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.eid}", daemon=True)
        beat.start()
        caches = None
        try:
            caches = with_reconnect(self._prepare)
            state, reason = self._run_stages(caches)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the execution must end with a reason
            log.exception("runner for execution %s crashed", self.eid)
            state, reason = State.FAILED, f"runner error: {type(exc).__name__}: {exc}"
        finally:
            self.stopped.set()
            if caches is not None:
                caches.release()
            beat.join(timeout=5)
        with_reconnect(engine.finish, self.eid, state, reason)

    def _prepare(self) -> ExecutionCaches:
        for path in (self.workspace, self.home, self.private):
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True, mode=0o700)
        ex = self.execution
        self.settings = project_settings(ex.project_id)
        auth = git_auth(ex.pipeline)
        self.clone = CloneSource(ex.repository_url, ex.commit, ex.branch, auth.env())
        self.secrets = SecretBook.for_execution(ex, extra=auth.secret_forms())
        self.registry_auth = {
            c.registry: (c.username, c.password) for c in RegistryCredential.objects.filter(project_id=ex.project_id)
        }
        self.variables = base_variables(ex, self.settings)
        self.skipped = set(
            StepRun.objects.filter(execution_id=self.eid, state=State.SKIPPED).values_list("stage_index", "index")
        )
        cache_root = Path(self.settings["cache-root"]) / ex.project.name / str(ex.pipeline_id)
        return ExecutionCaches(cache_root, self.private / "caches")

    def _heartbeat(self) -> None:
        """Beat while running; a beat that finds the execution no longer Building stops the steps."""
        try:
            while not self.stopped.wait(settings.RUNNER_HEARTBEAT_SECONDS):
                try:
                    self._still_building()
                except (OperationalError, InterfaceError) as exc:  # the next beat gets a new connection
                    log.warning("heartbeat of execution %s failed: %s", self.eid, exc)
                    connection.close()
        finally:
            connection.close()

    def _still_building(self) -> bool:
        """Beat once; when the execution was ended elsewhere (abort, safety net), stop with its reason."""
        alive = PipelineExecution.objects.filter(pk=self.eid, state=State.BUILDING).update(
            heartbeat_at=timezone.now()
        )
        if not alive:
            reason = PipelineExecution.objects.filter(pk=self.eid).values_list("reason", flat=True).first()
            self.stop_reason = reason or "execution ended elsewhere"
            self.stopped.set()
        return bool(alive)

    def _run_stages(self, caches: ExecutionCaches) -> tuple[str, str]:
        exports: dict[str, str] = {}
        for si, stage in enumerate(self.spec.stages):
            if all((si, sj) in self.skipped for sj in range(len(stage.steps))):
                continue
            if self.stopped.is_set():
                return State.ABORTED, self.stop_reason
            with_reconnect(engine.stage_started, self.eid, si)
            state, reason = self._run_stage(si, stage, caches, exports)
            with_reconnect(engine.stage_finished, self.eid, si, state)
            if state != State.SUCCESS:
                return state, reason
        return State.SUCCESS, ""

    # --- one stage -------------------------------------------------------------------------------
    def _run_stage(
        self, si: int, stage: Stage, caches: ExecutionCaches, exports: dict[str, str]
    ) -> tuple[str, str]:
        done = threading.Event()
        pending: list[RunningStep] = []
        outcome: tuple[str, str] = (State.SUCCESS, "")
        for sj, step in enumerate(stage.steps):
            if (si, sj) in self.skipped:
                continue
            started = self._start_step(si, sj, step, caches, exports, done)
            if isinstance(started, str):  # could not start: the stage fails, started siblings stop
                outcome = (State.FAILED, f"step {step.name}: {started}")
                for other in pending:
                    other.proc.stop(f"stopped because step {step.name} could not start")
                break
            pending.append(started)
        while pending:
            done.wait(timeout=0.25)
            done.clear()
            now = time.monotonic()
            for item in list(pending):
                if item.proc.finished:
                    pending.remove(item)
                    state, reason = self._finish_step(item)
                    if state == State.SUCCESS:
                        exports.update(item.exports)
                    elif outcome[0] == State.SUCCESS:
                        outcome = (state, f"step {item.step.name}: {reason}")
                        for other in pending:
                            other.proc.stop(f"stopped because step {item.step.name} {state.lower()}")
                elif now >= item.deadline:
                    item.proc.stop(item.deadline_reason)
                elif self.stopped.is_set():
                    item.proc.stop(self.stop_reason or "aborted")
        if self.stopped.is_set() and outcome[0] == State.SUCCESS:
            return State.ABORTED, self.stop_reason or "aborted"
        return outcome

    def _start_step(
        self,
        si: int,
        sj: int,
        step: Step,
        caches: ExecutionCaches,
        exports: dict[str, str],
        done: threading.Event,
    ) -> RunningStep | str:
        ex = self.execution
        key = log_key(ex.project.name, str(ex.pipeline_id), ex.run, si, sj)
        writer = StepLogWriter(key, self.secrets.values, live=self.live, store=self.store)
        try:
            env, notes = step_environment(step, {**self.variables, **exports}, self.secrets, event=ex.event)
            env = {**host_base_env(str(self.home)), **env}
            command = build_command(
                step, env, clone=self.clone, private_dir=self.private, registry_auth=self.registry_auth
            )
            notes += [caches.bind(path, self.workspace, self.home) for path in step.cache_paths]
        except StepSetupError as exc:
            writer.write_line(f"[devops] {exc}")
            writer.close()
            with_reconnect(engine.step_started, self.eid, si, sj, pid=None, host=self.host, log_key=key)
            with_reconnect(engine.step_finished, self.eid, si, sj, State.FAILED, reason=str(exc))
            return str(exc)
        for note in notes:
            writer.write_line(f"[devops] {note}")
        proc = StepProcess(command.argv, {**env, **command.env}, self.workspace, writer, done)
        pid = proc.start()
        with_reconnect(engine.step_started, self.eid, si, sj, pid=pid, host=self.host, log_key=key)
        deadline, why = self.deadline, f"pipeline timed out after {self.spec.timeout_minutes:g} min"
        if step.timeout_minutes is not None:
            step_deadline = time.monotonic() + step.timeout_minutes * 60
            if step_deadline < deadline:
                deadline, why = step_deadline, f"step timed out after {step.timeout_minutes:g} min"
        return RunningStep(si, sj, step, proc, writer, deadline, why, command.exports)

    def _finish_step(self, item: RunningStep) -> tuple[str, str]:
        proc = item.proc
        if proc.stop_reason is None and proc.exit_code != 0 and not self.stopped.is_set():
            # An abort kills the group directly, usually before our next heartbeat: ask now, so the
            # step's log says why it ended instead of showing the kill signal as a failure.
            with_reconnect(self._still_building)
        if proc.stop_reason is not None:
            state, reason = State.ABORTED, proc.stop_reason
        elif self.stopped.is_set() and proc.exit_code != 0:
            state, reason = State.ABORTED, self.stop_reason or "aborted"
        elif proc.exit_code == 0:
            state, reason = State.SUCCESS, ""
        else:
            state, reason = State.FAILED, f"exit code {proc.exit_code}"
        if reason:
            item.writer.write_line(f"[devops] {reason}")
        item.writer.close()
        with_reconnect(
            engine.step_finished,
            self.eid,
            item.stage_index,
            item.step_index,
            state,
            exit_code=proc.exit_code,
            reason=reason,
        )
        return state, reason
