"""End to end through real parts: a signed GitHub delivery -> the intake view -> the hooks queue on a
real worker -> git over HTTP from the fake provider (with the user's token) -> the local executor ->
commit statuses posted back to the fake provider's API."""

from __future__ import annotations

import pytest
import webhook_deliveries as d
from django.test import Client

from devops.models import ProjectSecret, SourceCodeCredential, WebhookDelivery
from devops.testing.fake_scm import FakeScm

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PIPELINE = """\
stages:
  - name: test
    steps:
      - runScriptConfig:
          image: busybox
          shellScript: echo "event=$CICD_EVENT branch=$CICD_GIT_BRANCH commit=$CICD_GIT_COMMIT token=${TOKEN:-none}"
        envFrom:
          - sourceName: deploy
            sourceKey: token
            targetKey: TOKEN
"""


@pytest.fixture
def github():
    fake = FakeScm("github").start()
    yield fake
    fake.stop()


@pytest.fixture
def wired(github, make_repo, make_pipeline, django_user_model):
    """A private repository on the fake GitHub and a pipeline on it with alice's credential."""
    alice = github.add_user("alice")
    repo = make_repo(PIPELINE)
    github.add_repo("alice/app", repo.path, admins={"alice"}, private=True)
    user = django_user_model.objects.create_user("alice")
    credential = SourceCodeCredential.objects.create(
        user=user, provider="github", host=github.url, login="alice", access_token=alice.token
    )
    pipeline = make_pipeline(f"{github.url}/alice/app.git")
    ProjectSecret.objects.create(project=pipeline.project, name="deploy", data={"token": "s3cr3t-value"})
    pipeline.provider, pipeline.credential = "github", credential
    pipeline.save()  # registers the webhook through the worker
    return pipeline, repo


def deliver(pipeline, headers, body):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(f"/hooks/pipelines/{pipeline.pk}/", data=body, content_type="application/json", **meta)


def test_push_builds_once_and_posts_pending_then_success(worker, wired, github, h):
    pipeline, repo = wired
    hooks = github.repos["alice/app"].hooks
    h.wait_until(lambda: len(hooks) == 1, 20, "webhook never registered")
    hook = next(iter(hooks.values()))
    assert hook["config"]["url"].endswith(f"/hooks/pipelines/{pipeline.pk}/")
    assert hook["config"]["insecure_ssl"] == "0"

    sha = repo.commit({"app.txt": "v2\n"}, "second")
    headers, body = d.push("github", pipeline.webhook_secret, branch="main", sha=sha)
    assert deliver(pipeline, headers, body).status_code == 202
    assert deliver(pipeline, headers, body).json()["status"] == "duplicate"

    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.exclude(outcome="queued").filter(pipeline=pipeline).first(), 60, "not processed"
    )
    assert delivery.outcome == "created", delivery.reason
    execution = h.wait_final(delivery.execution_id, timeout=90)
    assert execution.state == "Success", h.describe(execution.pk)
    assert (execution.commit, execution.event, execution.trigger_type) == (sha, "push", "webhook")
    log = h.stored_log([s for s in h.steps_of(execution.pk).values() if s.stage_index == 1][0])
    assert f"event=push branch=main commit={sha[:7]} token=********" in log

    statuses = github.repos["alice/app"].statuses
    h.wait_until(lambda: any(s["state"] == "success" for s in statuses), 30, f"no success status: {statuses}")
    mine = [s for s in statuses if s["sha"] == sha]
    assert mine[0]["state"] == "pending"
    assert mine[-1]["state"] == "success"
    assert mine[-1]["target_url"].endswith(f"/executions/{execution.pk}/")
    assert mine[-1]["context"] == f"devops/{pipeline.name}"
    assert set(github.clone_users) == {"x-access-token"}  # cloned over HTTP with the user's token
    assert pipeline.project.executions.count() == 1


def test_pull_request_runs_head_commit_with_target_file_and_no_secrets(worker, wired, github, h):
    pipeline, repo = wired
    repo.branch("feature")
    head = repo.commit({".devops.yml": "stages:\n  - name: evil\n    steps:\n      - runScriptConfig:\n"
                        "          image: busybox\n          shellScript: exit 1\n"}, "PR changes the pipeline")
    headers, body = d.github_pull_request(pipeline.webhook_secret, target="main", head_sha=head, source="feature")
    assert deliver(pipeline, headers, body).status_code == 202
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.exclude(outcome="queued").filter(pipeline=pipeline).first(), 60, "not processed"
    )
    assert delivery.outcome == "created", delivery.reason
    execution = h.wait_final(delivery.execution_id, timeout=90)
    assert execution.state == "Success", h.describe(execution.pk)
    assert (execution.commit, execution.event, execution.branch) == (head, "pull_request", "main")
    step = [s for s in h.steps_of(execution.pk).values() if s.stage_index == 1][0]
    log = h.stored_log(step)
    assert "event=pull_request" in log and "token=none" in log
    assert "s3cr3t-value" not in log


def test_filtered_branch_builds_nothing_and_says_why(worker, wired, github, h):
    pipeline, repo = wired
    repo.commit({".devops.yml": "branch: main\n" + PIPELINE}, "only main")
    repo.branch("topic")
    sha = repo.commit({"x": "1"}, "topic work")
    headers, body = d.push("github", pipeline.webhook_secret, branch="topic", sha=sha)
    assert deliver(pipeline, headers, body).status_code == 202
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.exclude(outcome="queued").filter(pipeline=pipeline).first(), 60, "not processed"
    )
    assert delivery.outcome == "skipped"
    assert "branch 'topic' is excluded by the pipeline file's `branch` filter" in delivery.reason
    assert not pipeline.executions.exists()


def test_turning_triggers_off_removes_the_webhook_and_deleting_is_quiet(worker, wired, github, h):
    pipeline, _ = wired
    hooks = github.repos["alice/app"].hooks
    h.wait_until(lambda: len(hooks) == 1, 20, "webhook never registered")
    pipeline.save()  # saving again keeps the one hook
    pipeline.trigger_push = pipeline.trigger_pull_request = pipeline.trigger_tag = False
    pipeline.save()
    h.wait_until(lambda: not hooks, 20, "webhook not removed")
    # The provider's hook goes first; the row forgets its id when the sync's transaction commits.
    h.wait_until(
        lambda: pipeline.__class__.objects.get(pk=pipeline.pk).remote_webhook_id == "", 20, "id not cleared"
    )
    pipeline.trigger_push = True
    pipeline.save()
    h.wait_until(lambda: len(hooks) == 1, 20, "webhook not registered again")
    assert len(github.calls("POST", r"/repos/alice/app/hooks$")) == 2
    h.wait_until(lambda: pipeline.__class__.objects.get(pk=pipeline.pk).remote_webhook_id, 20, "id not stored")
    pipeline.refresh_from_db()
    pipeline.delete()
    assert not hooks


def test_a_delivery_whose_task_was_lost_is_built_by_the_retry(worker, wired, h, settings):
    from devops import tasks
    from devops.webhooks.deliveries import requeue_stale

    pipeline, repo = wired
    sha = repo.commit({"lost.txt": "1\n"}, "lost task")
    # Recorded the way the intake records it, but its task never reaches the broker (as after a flush).
    delivery = WebhookDelivery.objects.create(
        pipeline=pipeline, source="github", delivery_id="lost-1", event="push",
        payload={"kind": "push", "branch": "main", "commit": sha},
    )  # fmt: skip
    settings.DELIVERY_RETRY_SECONDS = 3600
    assert requeue_stale() == 0  # not stale yet
    settings.DELIVERY_RETRY_SECONDS = 0
    assert requeue_stale() == 1
    tasks.process_delivery.delay(delivery.pk)  # a second copy: still one execution
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.exclude(outcome="queued").filter(pk=delivery.pk).first(), 60, "not processed"
    )
    assert delivery.outcome == "created", delivery.reason
    assert h.wait_final(delivery.execution_id, timeout=90).state == "Success"
    assert pipeline.executions.count() == 1
