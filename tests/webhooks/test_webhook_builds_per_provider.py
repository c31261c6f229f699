"""The bar for every provider, through a real worker: a valid delivery builds exactly one execution, a
replay builds none, a bad signature builds none, and a branch the pipeline file filters out builds none
and says why on the delivery."""

from __future__ import annotations

import pytest
import webhook_deliveries as d
from django.test import Client

from devops.models import WebhookDelivery

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PIPELINE = """\
branch:
  exclude: [wip/*]
stages:
  - name: test
    steps:
      - runScriptConfig: {image: busybox, shellScript: 'echo built $CICD_GIT_BRANCH'}
"""


def deliver(pipeline_id: int, headers: dict[str, str], body: bytes):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(f"/hooks/pipelines/{pipeline_id}/", data=body, content_type="application/json", **meta)


def processed(h, pipeline, count: int):
    def done():
        rows = list(WebhookDelivery.objects.filter(pipeline=pipeline).exclude(outcome="queued"))
        return rows if len(rows) >= count else None

    return h.wait_until(done, 60, f"{count} deliveries not processed")


@pytest.mark.parametrize("provider", d.PROVIDERS)
def test_delivery_builds_once_replay_and_forgery_build_nothing(provider, worker, make_repo, make_pipeline, h):
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    sha = repo.head()
    headers, body = d.push(provider, pipeline.webhook_secret, branch="main", sha=sha)
    assert deliver(pipeline.pk, headers, body).status_code == 202
    assert deliver(pipeline.pk, headers, body).status_code == 200  # the replay
    forged_headers, forged_body = d.push(provider, "forged", branch="main", sha=sha)
    assert deliver(pipeline.pk, forged_headers, forged_body).status_code == 401

    [delivery] = processed(h, pipeline, 1)
    assert delivery.outcome == "created", delivery.reason
    execution = h.wait_final(delivery.execution_id, timeout=90)
    assert execution.state == "Success", h.describe(execution.pk)
    assert (execution.commit, execution.branch, execution.event) == (sha, "main", "push")
    assert pipeline.executions.count() == 1


@pytest.mark.parametrize("provider", d.PROVIDERS)
def test_filtered_branch_builds_nothing_and_the_delivery_says_why(provider, worker, make_repo, make_pipeline, h):
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    repo.branch("wip/try")
    sha = repo.commit({"x.txt": "1\n"}, "work in progress")
    headers, body = d.push(provider, pipeline.webhook_secret, branch="wip/try", sha=sha)
    answer = deliver(pipeline.pk, headers, body)
    assert answer.status_code == 202
    [delivery] = processed(h, pipeline, 1)
    assert delivery.outcome == "skipped"
    assert delivery.reason == "branch 'wip/try' is excluded by the pipeline file's `branch` filter"
    assert not pipeline.executions.exists()
