"""What a step sees and leaves behind: secrets (masked), caches, `when` conditions."""

from __future__ import annotations

import threading

import pytest

from devops.logs import get_live_log
from devops.models import ProjectSecret, StageRun, StepRun
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "Zq8-pinecone-7731-XK"
FIRST_HALF = SECRET[:10]

SECRET_PIPELINE = """
stages:
  - name: Leak
    steps:
      - name: leak
        envFrom:
          - {sourceName: creds, sourceKey: token, targetKey: TOKEN}
        runScriptConfig:
          image: alpine
          shellScript: |
            echo "plain: $TOKEN"
            first=$(printf '%s' "$TOKEN" | cut -c1-10)
            rest=$(printf '%s' "$TOKEN" | cut -c11-)
            printf 'split: %s' "$first"
            sleep 1.5
            printf '%s\\n' "$rest"
            printf '%s' "$TOKEN" > secret.txt
            printf 'cat: '; cat secret.txt; echo
            echo "token=${TOKEN:-unset}"
            sleep 1
            echo done
"""


def test_secrets_are_masked_live_and_in_the_stored_log(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(SECRET_PIPELINE))
    ProjectSecret.objects.create(project_id=pipeline.project_id, name="creds", data={"token": SECRET})
    ex = trigger(pipeline)

    # Read the live buffer over and over while the step runs, as a browser following the log would.
    seen: list[bytes] = []
    stop = threading.Event()

    def follow() -> None:
        from django.db import connection

        live = get_live_log()
        try:
            while not stop.is_set():
                step = StepRun.objects.filter(execution_id=ex.pk, name="leak").first()
                if step and step.log_key:
                    seen.append(live.read(step.log_key) or b"")
                    seen.append(h.read_whole_log(step.log_key)[0])
                stop.wait(0.05)
        finally:
            connection.close()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        final = h.wait_final(ex.pk, timeout=30)
    finally:
        stop.set()
        reader.join()
    assert final.state == State.SUCCESS, h.describe(ex.pk)

    live_views = [v for v in seen if v]
    assert len(live_views) > 20, "the follower never saw the running step's log"
    assert any(b"split: " in v and b"done" not in v for v in live_views), "never caught the step mid-way"
    for view in live_views:
        assert SECRET.encode() not in view
        assert FIRST_HALF.encode() not in view, "the first half of a split secret was shown live"

    log = h.stored_log(h.steps_of(ex.pk)["leak"])
    assert SECRET not in log and FIRST_HALF not in log, log
    assert "plain: ********" in log
    assert "split: ********" in log
    assert "cat: ********" in log
    assert "token=********" in log
    assert "done" in log


CACHE_PIPELINE = """
stages:
  - name: Build
    steps:
      - name: warm
        cache:
          paths: [deps, ~/.m2]
        runScriptConfig:
          image: alpine
          shellScript: |
            if [ -f deps/marker ]; then echo "found: $(cat deps/marker)"; else echo "no marker"; fi
            if [ -f ~/.m2/marker ]; then echo "home found: $(cat ~/.m2/marker)"; fi
            echo "from run $CICD_EXECUTION_SEQUENCE" > deps/marker
            echo "home run $CICD_EXECUTION_SEQUENCE" > ~/.m2/marker
"""


def test_caches_persist_between_executions_of_one_pipeline(worker, make_repo, make_pipeline, trigger, h):
    repo = make_repo(CACHE_PIPELINE)
    pipeline = make_pipeline(repo)
    first = h.wait_final(trigger(pipeline).pk)
    assert first.state == State.SUCCESS, h.describe(first.pk)
    log1 = h.stored_log(h.steps_of(first.pk)["warm"])
    assert "no marker" in log1 and "cache deps: empty (first use)" in log1, log1

    second = h.wait_final(trigger(pipeline).pk)
    assert second.state == State.SUCCESS, h.describe(second.pk)
    log2 = h.stored_log(h.steps_of(second.pk)["warm"])
    assert "found: from run 1" in log2, log2
    assert "home found: home run 1" in log2, log2
    assert "cache deps: restored" in log2

    # Another pipeline of the same project (same repository even) has caches of its own.
    from devops.services import ensure_pipeline

    other, _ = ensure_pipeline(pipeline.project, "other", str(repo))
    third = h.wait_final(trigger(other).pk)
    assert "no marker" in h.stored_log(h.steps_of(third.pk)["warm"])


PR_PIPELINE = """
stages:
  - name: Test
    steps:
      - name: uses-secret
        envFrom:
          - {sourceName: creds, sourceKey: token, targetKey: TOKEN}
        runScriptConfig:
          image: alpine
          shellScript: echo "token=${TOKEN:-unset} event=$CICD_EVENT"
"""


def test_pull_request_executions_get_no_secrets(worker, make_repo, make_pipeline, trigger, h):
    pipeline = make_pipeline(make_repo(PR_PIPELINE))
    ProjectSecret.objects.create(project_id=pipeline.project_id, name="creds", data={"token": SECRET})

    pr = h.wait_final(trigger(pipeline, event="pull_request").pk)
    assert pr.state == State.SUCCESS, h.describe(pr.pk)
    log = h.stored_log(h.steps_of(pr.pk)["uses-secret"])
    assert "token=unset event=pull_request" in log, log
    assert "envFrom secrets are not injected into pull request executions" in log

    push = h.wait_final(trigger(pipeline, event="push").pk)  # the same file on a push does get it
    assert "token=******** event=push" in h.stored_log(h.steps_of(push.pk)["uses-secret"])


WHEN_PIPELINE = """
stages:
  - name: Build
    steps:
      - name: always
        runScriptConfig:
          image: alpine
          shellScript: echo "always on $CICD_GIT_BRANCH"
      - name: release-only
        when:
          branch: release/*
        runScriptConfig:
          image: alpine
          shellScript: echo "releasing $CICD_GIT_BRANCH"
  - name: Deploy
    when:
      branch: [release/*]
    steps:
      - name: deploy
        runScriptConfig:
          image: alpine
          shellScript: echo "deploying $CICD_GIT_BRANCH"
"""


def test_when_conditions_skip_on_main_and_run_on_release(worker, make_repo, make_pipeline, trigger, h):
    repo = make_repo(WHEN_PIPELINE)
    repo.branch("release/1")
    repo.commit({"VERSION": "1\n"}, "release 1")
    pipeline = make_pipeline(repo)

    on_main = h.wait_final(trigger(pipeline, branch="main").pk)
    assert on_main.state == State.SUCCESS, h.describe(on_main.pk)
    steps = h.steps_of(on_main.pk)
    assert steps["always"].state == State.SUCCESS
    assert steps["release-only"].state == State.SKIPPED and steps["release-only"].started_at is None
    assert "when" in steps["release-only"].reason
    assert steps["deploy"].state == State.SKIPPED
    assert StageRun.objects.get(execution_id=on_main.pk, name="Deploy").state == State.SKIPPED
    assert "always on main" in h.stored_log(steps["always"])

    on_release = h.wait_final(trigger(pipeline, branch="release/1").pk)
    assert on_release.state == State.SUCCESS, h.describe(on_release.pk)
    steps = h.steps_of(on_release.pk)
    assert {name: s.state for name, s in steps.items()} == {
        "clone": State.SUCCESS,
        "always": State.SUCCESS,
        "release-only": State.SUCCESS,
        "deploy": State.SUCCESS,
    }
    assert "releasing release/1" in h.stored_log(steps["release-only"])
    assert "deploying release/1" in h.stored_log(steps["deploy"])
