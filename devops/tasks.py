"""Celery tasks: load by id, call a service. Nothing else lives here."""

from __future__ import annotations

from celery import shared_task

from devops import engine
from devops.engine import maintenance
from devops.ops.logging import log_context


@shared_task(name="devops.tasks.admit")
def admit(project_id: int) -> None:
    with log_context(project_id=project_id):
        engine.admit(project_id)


@shared_task(name="devops.tasks.start")
def start(execution_id: int) -> None:
    with log_context(execution_id=execution_id):
        engine.start(execution_id)


# Acknowledged on receipt: a redelivered runner would run the steps twice. A runner that dies is
# caught by the heartbeat check in the safety net instead.
@shared_task(name="devops.tasks.run_local_execution", acks_late=False, time_limit=None, soft_time_limit=None)
def run_local_execution(execution_id: int) -> None:
    from devops.executors.local.runner import run_execution

    with log_context(execution_id=execution_id):
        run_execution(execution_id)


@shared_task(name="devops.tasks.maintenance_safety_net")
def maintenance_safety_net() -> dict[str, int]:
    return maintenance.safety_net()


@shared_task(name="devops.tasks.maintenance_sync_clusters")
def maintenance_sync_clusters() -> dict[str, int]:
    return maintenance.sync_clusters()


@shared_task(name="devops.tasks.maintenance_reconcile_projects")
def maintenance_reconcile_projects() -> dict[str, int]:
    return maintenance.reconcile_projects()


@shared_task(name="devops.tasks.maintenance_expire")
def maintenance_expire() -> dict[str, int]:
    return maintenance.expire_old_data()


# --- triggers (the hooks queue) -----------------------------------------------------------------
@shared_task(name="devops.tasks.process_delivery")
def process_delivery(delivery_id: int) -> None:
    from devops.webhooks.process import process_delivery as process

    with log_context(delivery_id=delivery_id):
        process(delivery_id)


@shared_task(name="devops.tasks.post_commit_status", autoretry_for=(ConnectionError,), max_retries=3)
def post_commit_status(execution_id: int) -> None:
    from devops.scm.status import post_execution_status

    with log_context(execution_id=execution_id):
        post_execution_status(execution_id)


@shared_task(name="devops.tasks.sync_remote_webhook")
def sync_remote_webhook(pipeline_id: int) -> None:
    from devops.scm.registration import sync_webhook

    with log_context(pipeline_id=pipeline_id):
        sync_webhook(pipeline_id)


@shared_task(name="devops.tasks.sync_repositories")
def sync_repositories(credential_id: int) -> None:
    from devops.scm.credentials import sync_repositories as sync

    sync(credential_id)


@shared_task(name="devops.tasks.fire_schedule")
def fire_schedule(schedule_id: int) -> None:
    from devops.schedules import fire

    fire(schedule_id)


@shared_task(name="devops.tasks.maintenance_retry_deliveries")
def maintenance_retry_deliveries() -> int:
    from devops.webhooks.deliveries import requeue_stale

    return requeue_stale()


@shared_task(name="devops.tasks.maintenance_poll_repositories")
def maintenance_poll_repositories() -> dict[str, int]:
    from devops.polling import poll_all

    return poll_all()
