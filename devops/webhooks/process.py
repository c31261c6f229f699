"""Where a recorded delivery becomes an execution, or the recorded reason there is none.

Runs on the hooks queue. The slow part (git: resolve, fetch, read the pipeline file at the commit)
runs outside any transaction; the write (the execution and the delivery's outcome) is one short
transaction under the delivery's row lock, so a redelivered task builds at most once.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from devops import engine
from devops.models import DeliveryOutcome, Pipeline, WebhookDelivery
from devops.models.executions import TriggerType
from devops.pipeline_config import PipelineConfigError
from devops.scm import git
from devops.scm.access import git_auth
from devops.triggers import BranchFiltered, Prepared, TriggerError, prepare_trigger, resolve_source

log = logging.getLogger(__name__)


class Skip(Exception):
    """The delivery builds nothing, for a reason that is not a failure."""


def process_delivery(delivery_id: int) -> None:
    delivery = WebhookDelivery.objects.select_related("pipeline").filter(pk=delivery_id).first()
    if delivery is None or delivery.outcome != DeliveryOutcome.QUEUED:
        return
    try:
        prepared = _prepare(delivery.pipeline, delivery.payload)
    except (BranchFiltered, Skip) as exc:
        _finish(delivery.pk, DeliveryOutcome.SKIPPED, str(exc))
        return
    except (TriggerError, PipelineConfigError) as exc:
        _finish(delivery.pk, DeliveryOutcome.FAILED, str(exc))
        return
    except Exception:
        log.exception("delivery %s of pipeline %s failed", delivery.pk, delivery.pipeline_id)
        _finish(delivery.pk, DeliveryOutcome.FAILED, "internal error while preparing the execution (see the logs)")
        return
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk, outcome=DeliveryOutcome.QUEUED)
        if not locked.exists():
            return  # another worker built it while we were reading the repository
        execution = engine.create_execution(delivery.pipeline, prepared.spec, prepared.trigger)
        locked.update(
            outcome=DeliveryOutcome.CREATED,
            execution=execution,
            reason=f"execution #{execution.run}",
            processed_at=timezone.now(),
        )


def _finish(delivery_pk: int, outcome: str, reason: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_pk, outcome=DeliveryOutcome.QUEUED).update(
        outcome=outcome, reason=reason[:2000], processed_at=timezone.now()
    )


def _prepare(pipeline: Pipeline, payload: dict[str, Any]) -> Prepared:
    kind = payload.get("kind")
    branch = str(payload.get("branch") or "") or None
    tag = str(payload.get("tag") or "") or None
    commit = str(payload.get("commit") or "") or None
    if kind in ("push", "tag"):
        return prepare_trigger(
            pipeline, branch=branch, tag=tag, commit=commit, event=kind, trigger_type=TriggerType.WEBHOOK
        )
    if kind == "pull_request":
        return _prepare_pull_request(pipeline, payload)
    if kind == "poll":
        return prepare_trigger(
            pipeline, branch=branch, tag=tag, commit=commit, event="tag" if tag else "push",
            trigger_type=TriggerType.POLL,
        )  # fmt: skip
    if kind == "cron":
        return prepare_trigger(pipeline, branch=branch, event="cron", trigger_type=TriggerType.CRON)
    if kind == "image":
        image = str(payload.get("image") or "")
        return prepare_trigger(
            pipeline, branch=branch, event="image", trigger_type=TriggerType.IMAGE, extra_env={"CICD_IMAGE": image}
        )
    raise Skip(f"unknown delivery kind {kind!r}")


def _prepare_pull_request(pipeline: Pipeline, payload: dict[str, Any]) -> Prepared:
    """The PR's head commit, run with the *target* branch's pipeline file: a pull request cannot
    change what its own build does (it gets no project secrets either: the executors withhold them
    for the ``pull_request`` event)."""
    target = str(payload.get("branch") or "")
    head = str(payload.get("commit") or "")
    if not target or not head:
        raise Skip("the pull request names no target branch or head commit")
    head = _full_sha(pipeline, head, str(payload.get("source_branch") or ""))
    base = resolve_source(pipeline, branch=target)
    return prepare_trigger(
        pipeline,
        branch=target,
        commit=head,
        event="pull_request",
        config_text=base.config_text,
        config_name=base.config_name,
        trigger_type=TriggerType.WEBHOOK,
    )


def _full_sha(pipeline: Pipeline, sha: str, source_branch: str) -> str:
    """Bitbucket sends 12-character hashes for pull requests; git fetches only full ones. The source
    branch's head is the commit when it starts with the short hash (same-repository PRs)."""
    if git.SHA_RE.match(sha):
        return sha
    if source_branch:
        auth = git_auth(pipeline)
        try:
            ref = f"refs/heads/{git.check_ref_name(source_branch)}"
            head = git.resolve(pipeline.repository_url, ref, auth.token or None, auth.username)
        except git.GitError as exc:
            raise TriggerError(str(exc)) from exc
        if head.startswith(sha):
            return head
    raise Skip(f"commit {sha} is not a full hash and the source branch no longer points at it")
