"""Commit statuses: pending when an execution is created, its result when it ends, with a link.

Registered as engine hooks (``register``), so the engine knows nothing about providers. The task
posts the state the execution has *when it runs*, and checks again after posting: a pending post
that lands after a fast execution finished is followed by the final one.
"""

from __future__ import annotations

import logging

from django.conf import settings

from devops.engine import hooks
from devops.models import Pipeline, PipelineExecution
from devops.states import State

from .access import api_token, provider_for
from .base import ProviderError, StatusState

log = logging.getLogger(__name__)

_STATUS: dict[str, StatusState] = {
    State.SUCCESS: "success",
    State.FAILED: "failure",
    State.ABORTED: "error",
    State.SKIPPED: "success",
}
_DESCRIPTION = {
    "pending": "queued",
    "success": "passed",
    "failure": "failed",
    "error": "aborted",
}


def execution_url(execution: PipelineExecution) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/executions/{execution.pk}/"


def post_execution_status(execution_id: int) -> None:
    execution = (
        PipelineExecution.objects.select_related("pipeline__credential").filter(pk=execution_id).first()
    )
    if execution is None or not execution.commit:
        return
    pipeline = execution.pipeline
    provider = provider_for(pipeline)
    if not provider.has_api or pipeline.credential is None:
        return
    posted = None
    for _ in range(3):
        state = _STATUS.get(execution.state, "pending")
        if state == posted:
            return
        description = f"#{execution.run} {_DESCRIPTION[state]}"
        if state == "pending" and execution.state == State.BUILDING:
            description = f"#{execution.run} running"
        if execution.reason and state != "success":
            description = f"{description}: {execution.reason}"
        try:
            provider.post_status(
                api_token(pipeline) or "",
                provider.repo_path(pipeline.repository_url),
                execution.commit,
                state,
                target_url=execution_url(execution),
                description=description[:140],
                context=f"devops/{pipeline.name}",
            )
        except ProviderError as exc:
            log.warning("commit status for execution %s not posted: %s", execution_id, exc)
            return
        posted = state
        if state != "pending":
            return
        execution.refresh_from_db(fields=["state", "reason"])


def _enqueue(execution_id: int) -> None:
    if Pipeline.objects.filter(executions=execution_id, credential__isnull=False).exclude(provider="git").exists():
        from devops import tasks

        tasks.post_commit_status.delay(execution_id)


def register() -> None:
    hooks.on_execution_created(_enqueue)
    hooks.on_execution_finished(_enqueue)
