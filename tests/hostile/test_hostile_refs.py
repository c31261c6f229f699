"""Branch and tag names full of shell syntax, through every way in (trigger, API run, signed webhook
push), run for real by the worker and the local executor: each reaches the step verbatim as
CICD_GIT_BRANCH / CICD_GIT_TAG (and through ``${CICD_GIT_BRANCH}`` substitution), the clone checks
out that branch at its own commit, and no sentinel file appears (hostile_refs.py says what each
name would have done in a shell).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from hostile_refs import assert_git_accepts, expected_lines, hostile_repo
from rest_framework.test import APIClient

from devops.models import PipelineExecution, ProjectMember, WebhookDelivery
from devops.triggers import trigger_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhooks"))  # the shared signed deliveries
import webhook_deliveries as deliveries  # noqa: E402

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(make_repo, make_pipeline, tmp_path):
    """A repository with one branch per hostile name, each at a commit of its own, and its pipeline."""
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    repo, names, shas = hostile_repo(make_repo, sentinels)
    pipeline = make_pipeline(repo, quota=0)
    return pipeline, repo, sentinels, names, shas


def assert_ran(h, execution: PipelineExecution, *, branch: str, tag: str = "", sha: str, event: str) -> None:
    execution = h.wait_final(execution.pk, timeout=60)
    assert execution.state == "Success", h.describe(execution.pk)
    assert (execution.branch, execution.tag, execution.commit, execution.event) == (branch, tag, sha, event)
    log = h.stored_log(h.steps_of(execution.pk)["show"])
    ref = f"refs/tags/{tag}" if tag else f"refs/heads/{branch}"
    checkout = branch if branch else "detached"
    for line in expected_lines(branch=branch, tag=tag, ref=ref, sha=sha, checkout=checkout):
        assert line in log.splitlines(), f"{line!r} not in the step's log:\n{log}"
    listing = next(line for line in log.splitlines() if line.startswith("workspace=["))
    assert "relative-pwned" not in listing and ".git " in listing, listing  # nothing made in the checkout


def processed(delivery_pk: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.exclude(outcome="queued").filter(pk=delivery_pk).first()


def assert_no_sentinel(sentinels: Path, pipeline) -> None:
    assert list(sentinels.iterdir()) == []
    for place in (settings.BASE_DIR, settings.WORKSPACE_ROOT, settings.MIRROR_ROOT, Path.home()):
        assert not (Path(place) / "relative-pwned").exists(), place
    workspaces = Path(settings.WORKSPACE_ROOT) / pipeline.project.name
    assert not list(workspaces.rglob("relative-pwned")), "the relative sentinel in a workspace"


def test_trigger_runs_each_hostile_branch_and_tag_as_data(worker, world, h):
    pipeline, repo, sentinels, names, shas = world
    runs = [(trigger_pipeline(pipeline, branch=name), name, shas[label]) for label, name in names.items()]
    tag = f"v1;touch${{IFS}}{sentinels}/tag"
    assert_git_accepts(tag)
    repo.checkout(names["pipe"])
    h.git(repo.path, "tag", "-a", tag, "-m", "hostile tag")
    tagged = trigger_pipeline(pipeline, tag=tag)
    for execution, name, sha in runs:
        assert_ran(h, execution, branch=name, sha=sha, event="manual")
    assert_ran(h, tagged, branch="", tag=tag, sha=shas["pipe"], event="tag")
    assert_no_sentinel(sentinels, pipeline)


def test_api_run_and_signed_webhook_push_carry_hostile_branches_as_data(worker, world, h, django_user_model):
    pipeline, _repo, sentinels, names, shas = world
    user = django_user_model.objects.create_user(h.unique_name("member"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="member")
    api = APIClient()
    api.force_authenticate(user)
    started = []
    for label in ("semicolon", "backticks", "quotes"):
        answer = api.post(f"/api/v1/pipelines/{pipeline.pk}/run/", {"branch": names[label]}, format="json")
        assert answer.status_code == 201, answer.content
        assert answer.json()["branch"] == names[label]
        started.append((PipelineExecution.objects.get(pk=answer.json()["id"]), label, "manual"))
    pushed = []
    for label in ("dollar-paren", "redirect", "relative"):
        headers, body = deliveries.push("github", pipeline.webhook_secret, branch=names[label], sha=shas[label])
        meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
        answer = Client().post(f"/hooks/pipelines/{pipeline.pk}/", data=body, content_type="application/json", **meta)
        assert answer.status_code == 202, answer.content
        pushed.append((answer.json()["delivery"], label))
    for pk, label in pushed:
        delivery = h.wait_until(lambda: processed(pk), 60, f"delivery for {label} never processed")  # noqa: B023
        assert delivery.outcome == "created", delivery.reason
        started.append((delivery.execution, label, "push"))
    for execution, label, event in started:
        assert_ran(h, execution, branch=names[label], sha=shas[label], event=event)
    assert_no_sentinel(sentinels, pipeline)
