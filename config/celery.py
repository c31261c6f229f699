"""The Celery app and its queues.

Four queues keep short work from waiting behind long work: ``engine`` (state-machine steps, short),
``runner`` (local runners: one long task per execution), ``hooks`` (webhook intake) and
``maintenance`` (the periodic safety net).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu import Queue

from devops.ops.heartbeat import WorkerHeartbeat

from .filesystem_broker import install as install_filesystem_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
install_filesystem_broker()

app = Celery("devops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("engine", "runner", "hooks", "maintenance")]
app.conf.task_routes = {
    "devops.tasks.run_local_execution": {"queue": "runner"},
    "devops.tasks.maintenance_*": {"queue": "maintenance"},
    "devops.tasks.process_delivery": {"queue": "hooks"},
    "devops.tasks.post_commit_status": {"queue": "hooks"},
    "devops.tasks.sync_remote_webhook": {"queue": "hooks"},
    "devops.tasks.sync_repositories": {"queue": "hooks"},
    "devops.tasks.fire_schedule": {"queue": "hooks"},
}
app.autodiscover_tasks(["devops"])
# Liveness: workers touch VAR_DIR/heartbeats/<node name>; `manage.py workerprobe` reads its age. Beat's
# scheduler (CELERY_BEAT_SCHEDULER, devops/ops/beat.py) touches VAR_DIR/heartbeats/beat: `beatprobe`.
app.steps["consumer"].add(WorkerHeartbeat)


@app.on_after_configure.connect
def _beat_schedule(sender: Celery, **kwargs: object) -> None:
    """Periodic tasks; django-celery-beat copies them into the database so they show in the admin."""
    from django.conf import settings

    sender.conf.beat_schedule = {
        "safety-net": {
            "task": "devops.tasks.maintenance_safety_net",
            "schedule": settings.MAINTENANCE_INTERVAL_SECONDS,
        },
        "sync-clusters": {
            "task": "devops.tasks.maintenance_sync_clusters",
            "schedule": settings.KUBERNETES_SYNC_SECONDS,
        },
        "retry-deliveries": {"task": "devops.tasks.maintenance_retry_deliveries", "schedule": 30.0},
        "poll-repositories": {
            "task": "devops.tasks.maintenance_poll_repositories",
            "schedule": settings.POLL_INTERVAL_SECONDS,
        },
        "reconcile-projects": {"task": "devops.tasks.maintenance_reconcile_projects", "schedule": 300.0},
        "expire-old-data": {"task": "devops.tasks.maintenance_expire", "schedule": 3600.0},
    }


@task_prerun.connect
@task_postrun.connect
def _recycle_old_connections(**kwargs: object) -> None:
    """Drop connections past CONN_MAX_AGE or broken; keep the rest for the next task."""
    from django.db import close_old_connections

    close_old_connections()
