"""A pipeline's webhook on its repository: there while a push/PR/tag trigger is on, gone otherwise.

``sync_webhook`` converges instead of toggling, so running it twice (or concurrently: the pipeline
row is locked) registers one hook; a hook deleted by hand on the provider is registered again.
Saving a pipeline enqueues it on commit; deleting one removes the hook first (best effort: a
provider that is down must not make a pipeline undeletable, and a stale hook only gets 404s).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save, pre_delete

from devops.models import Pipeline

from .access import api_token, can_use_api, provider_for
from .base import ProviderError

log = logging.getLogger(__name__)


def webhook_url(pipeline: Pipeline) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/hooks/pipelines/{pipeline.pk}/"


def wants_webhook(pipeline: Pipeline) -> bool:
    return pipeline.trigger_push or pipeline.trigger_pull_request or pipeline.trigger_tag


def sync_webhook(pipeline_id: int) -> str:
    """Make the remote webhook match the triggers; returns what was done (for logs and tests)."""
    with transaction.atomic():
        locked = Pipeline.objects.select_for_update(of=("self",)).select_related("credential")
        pipeline = locked.filter(pk=pipeline_id).first()
        if pipeline is None:
            return "gone"
        if not can_use_api(pipeline):
            return "no-api"
        provider = provider_for(pipeline)
        token = api_token(pipeline) or ""
        repo = provider.repo_path(pipeline.repository_url)
        hook_id = pipeline.remote_webhook_id
        if wants_webhook(pipeline):
            if hook_id and provider.webhook_exists(token, repo, hook_id):
                return "kept"
            new_id = provider.create_webhook(token, repo, webhook_url(pipeline), pipeline.webhook_secret)
            Pipeline.objects.filter(pk=pipeline.pk).update(remote_webhook_id=new_id)
            return "created"
        if not hook_id:
            return "none"
        provider.delete_webhook(token, repo, hook_id)
        Pipeline.objects.filter(pk=pipeline.pk).update(remote_webhook_id="")
        return "deleted"


def remove_webhook(pipeline: Pipeline) -> None:
    if not pipeline.remote_webhook_id or not can_use_api(pipeline):
        return
    provider = provider_for(pipeline)
    try:
        provider.delete_webhook(
            api_token(pipeline) or "", provider.repo_path(pipeline.repository_url), pipeline.remote_webhook_id
        )
    except ProviderError as exc:
        log.warning("webhook %s of pipeline %s not removed: %s", pipeline.remote_webhook_id, pipeline.pk, exc)


def _on_save(sender: type[Pipeline], instance: Pipeline, raw: bool = False, **kwargs: object) -> None:
    if raw or not instance.credential_id or instance.provider == "git":
        return
    from devops import tasks

    pipeline_id = instance.pk
    transaction.on_commit(lambda: tasks.sync_remote_webhook.delay(pipeline_id))


def _on_delete(sender: type[Pipeline], instance: Pipeline, **kwargs: object) -> None:
    remove_webhook(instance)


def register() -> None:
    post_save.connect(_on_save, sender=Pipeline, dispatch_uid="devops.scm.registration.save")
    pre_delete.connect(_on_delete, sender=Pipeline, dispatch_uid="devops.scm.registration.delete")
