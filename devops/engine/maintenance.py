"""The periodic safety net. Never the only path: it repairs what a lost message or a dead worker left."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from devops.models import PipelineExecution, StepRun
from devops.states import State

from .admission import admit
from .lifecycle import finish, start

log = logging.getLogger(__name__)


def readmit_queued() -> int:
    """Admission is enqueued on every create and finish; this covers a lost ``admit`` message."""
    project_ids = set(
        PipelineExecution.objects.filter(state=State.QUEUEING).values_list("project_id", flat=True)
    )
    return sum(len(admit(pid)) for pid in project_ids)


def relaunch_waiting() -> int:
    """An admitted execution whose launch message was lost (or whose runner died before starting)."""
    cutoff = timezone.now() - timedelta(seconds=settings.LAUNCH_RETRY_SECONDS)
    stale = PipelineExecution.objects.filter(state=State.WAITING).filter(
        Q(launched_at__lt=cutoff) | Q(launched_at__isnull=True, admitted_at__lt=cutoff)
    )
    return sum(1 for eid in stale.values_list("id", flat=True) if start(eid))


def fail_silent_runners() -> int:
    """A runner that stopped beating (killed worker, lost host) cannot report; fail its execution."""
    silence = settings.RUNNER_SILENCE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=silence)
    silent = PipelineExecution.objects.filter(state=State.BUILDING, heartbeat_at__lt=cutoff)
    failed = 0
    for eid, node in silent.values_list("id", "node"):
        reason = f"runner on {node or 'unknown host'} went silent for more than {silence:g} s (worker lost)"
        if finish(eid, State.FAILED, reason):
            failed += 1
            _kill_leftovers(eid)
    return failed


def _kill_leftovers(execution_id: int) -> None:
    from devops.executors import executor_for

    execution = PipelineExecution.objects.select_related("project").get(pk=execution_id)
    executor_for(execution.project).abort(execution)


def safety_net() -> dict[str, int]:
    return {
        "failed_silent": fail_silent_runners(),
        "relaunched": relaunch_waiting(),
        "readmitted": readmit_queued(),
    }


def expire_old_data() -> dict[str, int]:
    """Workspaces older than WORKSPACE_RETENTION_HOURS; logs older than LOG_RETENTION_DAYS."""
    from devops.logs import get_log_store

    removed_ws = 0
    root = settings.WORKSPACE_ROOT
    cutoff = time.time() - settings.WORKSPACE_RETENTION_HOURS * 3600
    if root.is_dir():
        for project_dir in root.iterdir():
            for ws in project_dir.glob("*/*"):
                if ws.is_dir() and ws.stat().st_mtime < cutoff:
                    shutil.rmtree(ws, ignore_errors=True)
                    removed_ws += 1
    log_cutoff = timezone.now() - timedelta(days=settings.LOG_RETENTION_DAYS)
    # Steps whose log is still stored: clearing log_key afterwards keeps each hourly pass small.
    expired = StepRun.objects.filter(execution__ended_at__lt=log_cutoff).exclude(log_key="")
    store = get_log_store()
    removed_logs = 0
    for step_id, key in expired.values_list("id", "log_key").iterator():
        removed_logs += store.delete_prefix(key)
        StepRun.objects.filter(pk=step_id).update(log_key="")
    return {"workspaces": removed_ws, "logs": removed_logs}


def sync_clusters() -> dict[str, int]:
    """Executors that do not report by themselves (Kubernetes) are read here: one batch per cluster."""
    from devops.executors import executor_for

    # Only what a tick reads: encrypted columns (kubeconfigs, tokens, webhook secrets) would be
    # decrypted once per row otherwise, which dominated a tick at 1,000 executions.
    active = (
        PipelineExecution.objects.filter(state__in=(State.WAITING, State.BUILDING), project__cluster__isnull=False)
        .filter(launched_at__isnull=False)
        .select_related("project", "pipeline")
        .only("id", "state", "run", "pipeline_id", "project_id", "project__name", "project__cluster_id",
              "pipeline__name", "pipeline__credential_id")  # fmt: skip
    )
    by_cluster: dict[int, list[PipelineExecution]] = {}
    for execution in active:
        by_cluster.setdefault(execution.project.cluster_id, []).append(execution)
    synced = 0
    for executions in by_cluster.values():
        try:
            executor_for(executions[0].project).poll(executions)
            synced += len(executions)
        except Exception:  # noqa: BLE001 - one unreachable cluster must not stop the others
            log.exception("sync of cluster %s failed", executions[0].project.cluster_id)
    return {"synced": synced}


def reconcile_projects() -> dict[str, int]:
    """Provision every project bound to a cluster again: repairs drift, follows namespace changes."""
    from devops.executors.kubernetes.cluster import api_client
    from devops.executors.kubernetes.provision import provision
    from devops.models import Project

    done = 0
    for project in Project.objects.filter(cluster__isnull=False).select_related("cluster"):
        try:
            provision(api_client(project.cluster), project)
            done += 1
        except Exception:  # noqa: BLE001 - one unreachable cluster must not stop the others
            log.exception("reconciling project %s failed", project.name)
    return {"reconciled": done}
