"""Polling plain-git repositories (real repositories on disk, real ``git ls-remote``): the first poll
only records, each new or moved head or new tag is one delivery, and (with the real worker) a new
commit builds while a branch the pipeline file excludes is recorded as skipped with the reason."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from devops.models import Pipeline, WebhookDelivery
from devops.polling import poll_all, poll_pipeline, reset_polling
from devops.scm import git

POLL_PIPELINE = """
branch:
  include: [main, "release/*"]
stages:
  - name: Build
    steps:
      - name: build
        runScriptConfig:
          image: alpine
          shellScript: echo "built $CICD_GIT_COMMIT"
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def polled(make_repo, make_pipeline):
    repo = make_repo(POLL_PIPELINE)
    pipeline = make_pipeline(repo)
    Pipeline.objects.filter(pk=pipeline.pk).update(poll=True)
    pipeline.refresh_from_db()
    return repo, pipeline


def deliveries(pipeline: Pipeline) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(pipeline=pipeline).order_by("id"))


def test_ls_remote_lists_branches_and_peeled_tags(make_repo):
    repo = make_repo(POLL_PIPELINE)
    light = repo.tag("v1")
    repo.commit({"a.txt": "a"})
    annotated = repo.tag("v2", message="release 2")
    heads = git.ls_remote(str(repo))
    assert heads == {"refs/heads/main": repo.head(), "refs/tags/v1": light, "refs/tags/v2": annotated}


def test_first_poll_records_the_heads_without_building(polled):
    repo, pipeline = polled
    assert poll_pipeline(pipeline) == 0
    pipeline.refresh_from_db()
    assert pipeline.polled_heads == {"refs/heads/main": repo.head()}
    assert pipeline.polled_at is not None
    assert not deliveries(pipeline)


def test_new_commit_is_one_delivery_and_an_unchanged_repository_none(polled):
    repo, pipeline = polled
    poll_pipeline(pipeline)
    sha = repo.commit({"b.txt": "b"}, "second")
    assert poll_pipeline(pipeline) == 1
    [delivery] = deliveries(pipeline)
    assert (delivery.source, delivery.event, delivery.delivery_id) == ("poll", "push", f"refs/heads/main:{sha}")
    assert delivery.payload == {"kind": "poll", "branch": "main", "commit": sha}
    assert poll_pipeline(pipeline) == 0
    assert len(deliveries(pipeline)) == 1


def test_new_and_deleted_branches_and_new_tags(polled, h):
    repo, pipeline = polled
    repo.branch("old")
    poll_pipeline(pipeline)
    repo.checkout("main")
    h.git(repo.path, "branch", "-D", "old")
    repo.branch("release/1")
    release = repo.commit({"r.txt": "r"})
    tagged = repo.tag("v1.0", message="first release")
    assert poll_pipeline(pipeline) == 2
    payloads = sorted((d.event, sorted(d.payload.items())) for d in deliveries(pipeline))
    assert payloads == [
        ("push", sorted({"kind": "poll", "branch": "release/1", "commit": release}.items())),
        ("tag", sorted({"kind": "poll", "tag": "v1.0", "commit": tagged}.items())),
    ]
    pipeline.refresh_from_db()
    assert "refs/heads/old" not in pipeline.polled_heads  # a deleted branch is only dropped
    assert pipeline.polled_heads["refs/tags/v1.0"] == tagged


def test_trigger_switches_are_respected(polled):
    repo, pipeline = polled
    Pipeline.objects.filter(pk=pipeline.pk).update(trigger_push=False, trigger_tag=False)
    pipeline.refresh_from_db()
    poll_pipeline(pipeline)
    repo.commit({"c.txt": "c"})
    repo.tag("v9")
    assert poll_pipeline(pipeline) == 0
    Pipeline.objects.filter(pk=pipeline.pk).update(trigger_tag=True)
    repo.tag("v10")
    assert poll_pipeline(pipeline) == 1
    assert deliveries(pipeline)[0].payload["tag"] == "v10"


def test_an_empty_repository_builds_its_first_push(tmp_path, make_pipeline, h):
    """The first poll of an empty repository saves no heads; the next poll must still build."""
    path = tmp_path / "empty"
    path.mkdir()
    h.git(path, "init", "-q", "-b", "main")
    pipeline = make_pipeline(str(path))
    Pipeline.objects.filter(pk=pipeline.pk).update(poll=True)
    assert poll_pipeline(pipeline) == 0
    h.git(path, "commit", "-q", "--allow-empty", "-m", "first")
    assert poll_pipeline(pipeline) == 1


def test_reset_makes_the_next_poll_record_only(polled):
    repo, pipeline = polled
    poll_pipeline(pipeline)
    repo.commit({"d.txt": "d"})
    reset_polling(pipeline)
    assert poll_pipeline(pipeline) == 0
    assert not deliveries(pipeline)


def test_poll_all_counts_and_one_broken_repository_does_not_stop_the_others(polled, make_repo, make_pipeline, caplog):
    repo, pipeline = polled
    broken = make_pipeline(make_repo(POLL_PIPELINE))
    Pipeline.objects.filter(pk=broken.pk).update(poll=True, repository_url="/nonexistent/repository")
    ignored = make_pipeline(make_repo(POLL_PIPELINE))  # poll off: never listed
    assert poll_all() == {"polled": 1, "deliveries": 0, "errors": 1}
    assert f"polling pipeline {broken.pk} failed" in caplog.text
    repo.commit({"e.txt": "e"})
    assert poll_all() == {"polled": 1, "deliveries": 1, "errors": 1}
    ignored.refresh_from_db()
    assert ignored.polled_at is None


def test_a_poll_started_before_another_pollers_save_is_dropped(polled):
    """An older listing must not overwrite (or re-record against) heads a later poll saved."""
    from datetime import timedelta

    from django.utils import timezone

    repo, pipeline = polled
    poll_pipeline(pipeline)
    repo.commit({"f.txt": "f"})
    Pipeline.objects.filter(pk=pipeline.pk).update(polled_at=timezone.now() + timedelta(minutes=1))
    assert poll_pipeline(pipeline) is None
    assert not deliveries(pipeline)


@pytest.mark.django_db(transaction=True)
def test_a_pipeline_locked_by_another_poller_is_skipped(polled):
    repo, pipeline = polled
    poll_pipeline(pipeline)
    repo.commit({"g.txt": "g"})
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Pipeline.objects.select_for_update().get(pk=pipeline.pk)
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert poll_pipeline(pipeline) is None  # skip_locked: no wait, no double poll
    finally:
        release.set()
        holder.join()
    assert poll_pipeline(pipeline) == 1


# --- end to end with the real worker ---------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_polled_commit_builds_and_an_excluded_branch_is_skipped(worker, polled, h):
    from devops.models import PipelineExecution
    from devops.states import State

    repo, pipeline = polled
    assert poll_pipeline(pipeline) == 0
    sha = repo.commit({"h.txt": "h"}, "polled change")
    assert poll_pipeline(pipeline) == 1
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.filter(pipeline=pipeline).exclude(outcome="queued").first(),
        30, "the polled delivery was never processed",
    )  # fmt: skip
    assert delivery.outcome == "created", delivery.reason
    execution = PipelineExecution.objects.get(pk=delivery.execution_id)
    assert (execution.trigger_type, execution.event, execution.branch, execution.commit) == (
        "poll", "push", "main", sha,
    )  # fmt: skip
    final = h.wait_final(execution.pk, timeout=30)
    assert final.state == State.SUCCESS, h.describe(execution.pk)
    assert f"built {sha[:7]}" in h.stored_log(h.steps_of(execution.pk)["build"])
    assert poll_pipeline(pipeline) == 0

    repo.branch("feature")
    repo.commit({"i.txt": "i"}, "feature work")
    assert poll_pipeline(pipeline) == 1
    skipped = h.wait_until(
        lambda: WebhookDelivery.objects.filter(pipeline=pipeline, payload__branch="feature")
        .exclude(outcome="queued")
        .first(),
        30, "the feature delivery was never processed",
    )  # fmt: skip
    assert skipped.outcome == "skipped"
    assert "excluded by the pipeline file's `branch` filter" in skipped.reason
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
