"""Hostile pipeline files pushed to a repository and announced by signed webhooks, processed by the
real worker: each delivery fails (or is skipped) with the file's own error as its reason, builds
nothing, and the worker goes on to build the next good push. Also: the pipeline file's name when
saving is one of the known names, never a path.

A delivery, not an execution, carries the reason: a file that does not parse never becomes an
execution (there would be no stages to show), so the delivery records why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import Client

from devops.config_commits import CannotSave, save_pipeline_file
from devops.models import PipelineExecution, WebhookDelivery

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhooks"))  # the shared signed deliveries
import webhook_deliveries as deliveries  # noqa: E402

MiB = 1024 * 1024
GOOD = (
    "stages:\n  - name: s\n    steps:\n      - name: ok\n        runScriptConfig: {image: x, shellScript: 'echo ok'}\n"
)
HUGE = GOOD + "# padding\n" * (20 * MiB // 10)  # 20 MiB, ASCII: characters are bytes
TOO_BIG = "pipeline files are limited to 1048576 bytes (1 MiB)"
STEP = "    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"
LAUGHS = "\n".join(['a0: &a0 "lol"'] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)])
REDOS_BRANCH = "a" * 60
# branch -> (the pushed file, the delivery's outcome and reason)
PUSHES = {
    "bomb": (
        LAUGHS + "\nstages:\n  - name: s\n    when: {branch: *a9}\n" + STEP,
        ("failed", ".devops.yml:1:1: the document expands to more than 10000 nodes through anchors and aliases"),
    ),
    "huge": (
        HUGE,
        ("failed", f".devops.yml:1:1: the file is {len(HUGE)} bytes; {TOO_BIG}"),
    ),
    "deep": (
        "stages: " + "[" * 100_000,
        ("failed", ".devops.yml:1:58: the document is nested more than 50 levels deep"),
    ),
    "recursive": (
        "stages:\n  - &s\n    name: s\n    steps: [*s]\n",
        ("failed", ".devops.yml:2:5: an alias refers to a node that contains it (recursive alias)"),
    ),
    "nul": (
        GOOD + '        env: {A: "x\\0y"}\n',
        ("failed", ".devops.yml:6:18: a value holds a NUL character (\\0), which pipeline values cannot contain"),
    ),
    REDOS_BRANCH: (
        'branch: {include: ["' + "*a" * 30 + 'b"]}\n' + GOOD,
        ("skipped", f"branch {REDOS_BRANCH!r} is excluded by the pipeline file's `branch` filter"),
    ),
}


def deliver(pipeline, branch: str, sha: str) -> int:
    headers, body = deliveries.push("github", pipeline.webhook_secret, branch=branch, sha=sha)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    answer = Client().post(f"/hooks/pipelines/{pipeline.pk}/", data=body, content_type="application/json", **meta)
    assert answer.status_code == 202, answer.content
    return answer.json()["delivery"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_hostile_files_fail_their_deliveries_and_the_next_push_builds(worker, make_repo, make_pipeline, h):
    repo = make_repo(GOOD)
    pipeline = make_pipeline(repo, quota=0)
    sent = {}
    for branch, (text, _) in PUSHES.items():
        repo.branch(branch, "main")
        sent[branch] = deliver(pipeline, branch, repo.commit({".devops.yml": text}, f"hostile {branch}"))
    repo.checkout("main")
    for branch, (_, expected) in PUSHES.items():
        delivery = h.wait_until(
            lambda pk=sent[branch]: WebhookDelivery.objects.exclude(outcome="queued").filter(pk=pk).first(),
            60,
            f"delivery for {branch} never processed",
        )
        assert (delivery.outcome, delivery.reason) == expected, branch
    assert not PipelineExecution.objects.exists()

    good = deliver(pipeline, "main", repo.commit({"README.md": "after\n"}, "good again"))
    delivery = h.wait_until(
        lambda: WebhookDelivery.objects.filter(pk=good, outcome="created").first(), 60, "good push not built"
    )
    execution = h.wait_final(delivery.execution_id, timeout=60)
    assert execution.state == "Success", h.describe(execution.pk)
    assert h.stored_log(h.steps_of(execution.pk)["ok"]) == "ok\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "/etc/passwd", "sub/.devops.yml", ".devops.yml/..", ".git/config"]
)
def test_saving_the_pipeline_file_refuses_any_other_path(make_repo, make_pipeline, django_user_model, tmp_path, path):
    """Refused before parsing or any provider call: the repository and the disk are untouched."""
    repo = make_repo(GOOD)
    head = repo.head()
    pipeline = make_pipeline(repo)
    user = django_user_model.objects.create_user("saver")
    with pytest.raises(CannotSave, match="^the pipeline file must be one of .devops.yml, .devops.yaml, "):
        save_pipeline_file(pipeline, user, GOOD, path=path)
    assert repo.head() == head
    assert not (tmp_path / "etc").exists()
