"""Admission: the per-project quota (``executor-quota``), first come first served."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from devops.models import PipelineExecution, Project
from devops.selectors import project_setting
from devops.states import ACTIVE_STATES, State

from . import transitions
from .dispatch import start_later


def admit(project_id: int) -> list[int]:
    """Move the oldest queued executions to ``Waiting`` while the quota allows; start each on commit.

    The first statement is a write to the project row, which serialises concurrent admissions of one
    project (PostgreSQL row lock; SQLite's single writer), so two workers can never both see a free
    slot and both fill it.
    """
    admitted: list[int] = []
    with transaction.atomic():
        if not Project.objects.filter(pk=project_id).update(admission_seq=F("admission_seq") + 1):
            return admitted
        quota = int(project_setting(project_id, "executor-quota"))
        queued = PipelineExecution.objects.filter(project_id=project_id, state=State.QUEUEING)
        if quota:
            running = PipelineExecution.objects.filter(project_id=project_id, state__in=ACTIVE_STATES).count()
            free = quota - running
            if free <= 0:
                return admitted
            queued = queued.order_by("id")[:free]
        else:
            queued = queued.order_by("id")
        now = timezone.now()
        for execution_id in queued.values_list("id", flat=True):
            if transitions.move_execution(execution_id, State.WAITING, admitted_at=now):
                admitted.append(execution_id)
                start_later(execution_id)
    return admitted
