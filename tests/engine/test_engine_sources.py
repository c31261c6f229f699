"""Where code comes from and what the local executor refuses: file:// clones, deploy steps without a
cluster, and registering a pipeline from the command line."""

from __future__ import annotations

import json
import subprocess

import pytest

from devops.models import Pipeline
from devops.states import State
from devops.triggers import trigger_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SHOW_CHECKOUT = """
stages:
  - name: Inspect
    steps:
      - name: show
        runScriptConfig:
          image: alpine
          shellScript: |
            cat VERSION
            git rev-parse HEAD
            echo "url=$CICD_GIT_URL branch=$CICD_GIT_BRANCH"
"""

DEPLOY = """
stages:
  - name: Deploy
    steps:
      - name: manifests
        applyYamlConfig:
          path: ./deploy/app.yaml
      - name: chart
        applyAppConfig:
          chart: app
          name: app
          targetNamespace: prod
"""


def test_file_url_clone_checks_out_the_commit(worker, make_repo, make_pipeline, h):
    repo = make_repo(SHOW_CHECKOUT, files={"VERSION": "1.2.3\n"})
    url = f"file://{repo}"
    pipeline = make_pipeline(url)
    execution = h.wait_final(trigger_pipeline(pipeline, branch="main").pk, timeout=60)
    assert execution.state == State.SUCCESS, h.describe(execution.pk)
    log = h.stored_log(h.steps_of(execution.pk)["show"])
    assert "1.2.3" in log
    assert execution.commit in log
    assert f"url={url} branch=main" in log


def test_deploy_steps_without_a_cluster_fail_with_a_clear_reason(worker, make_repo, make_pipeline, h):
    pipeline = make_pipeline(make_repo(DEPLOY, files={"deploy/app.yaml": "kind: ConfigMap\n"}))
    execution = h.wait_final(trigger_pipeline(pipeline, branch="main").pk, timeout=60)
    assert execution.state == State.FAILED
    steps = h.steps_of(execution.pk)
    failed = [s for s in steps.values() if s.state == State.FAILED]
    assert failed, h.describe(execution.pk)
    for step in failed:
        assert "has no cluster" in step.reason and "local executor" in step.reason
        assert "Bind the project to a cluster" in h.stored_log(step)
    assert "has no cluster" in execution.reason


def test_createpipeline_prints_what_a_webhook_needs_and_is_repeatable(worker, make_repo, h):
    repo = make_repo(SHOW_CHECKOUT)
    env = {**worker.env, "DB_CONN_MAX_AGE": "0"}
    args = [h.python, "manage.py", "createpipeline", "--project", "team", "--repo", str(repo),
            "--provider", "gitea", "--name", "svc", "--json"]  # fmt: skip
    first = subprocess.run(args, cwd=h.base_dir, env=env, capture_output=True, text=True, check=True, timeout=60)
    again = subprocess.run(args, cwd=h.base_dir, env=env, capture_output=True, text=True, check=True, timeout=60)
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    pipeline = Pipeline.objects.get(project__name="team", name="svc")
    assert one["id"] == two["id"] == pipeline.pk
    assert one["created"] is True and two["created"] is False
    assert one["webhook_url"].endswith(f"/hooks/pipelines/{pipeline.pk}/")
    assert one["webhook_secret"] == two["webhook_secret"] == pipeline.webhook_secret
    assert len(pipeline.webhook_secret) >= 32
    assert pipeline.provider == "gitea" and pipeline.repository_url == str(repo)
