"""The production log path end to end: a worker configured with ``LIVE_LOG=redis://`` and
``LOG_STORE=s3://`` (moto over HTTP) streams a running step's output through Redis and stores the
finished log in S3, masked, byte for byte what the step wrote."""

from __future__ import annotations

import os
import uuid

import pytest

from devops.logs import build_live_log, build_log_store, read_log
from devops.models import ProjectSecret
from devops.states import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PIPELINE = """
stages:
  - name: Build
    steps:
      - name: noisy
        runScriptConfig:
          image: alpine
          shellScript: |
            i=0
            while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done
            echo "token=$TOKEN"
            echo "still running"
            sleep 2
            echo "done"
        envFrom:
          - {sourceName: api, sourceKey: token, targetKey: TOKEN}
"""
SECRET = "prod-log-secret-7f3a9c"


def test_redis_live_log_and_s3_store(worker, make_repo, make_pipeline, trigger, h, s3_endpoint, tmp_path):
    from config.celery import app

    bucket = f"logs-{uuid.uuid4().hex[:12]}"
    live_url = "redis://127.0.0.1:6379/13"
    env = {
        **worker.env,
        "LOG_STORE": f"s3://{bucket}",
        "S3_ENDPOINT_URL": f"http://{s3_endpoint}",
        "S3_ACCESS_KEY": "testing",
        "S3_SECRET_KEY": "testing",
        "S3_REGION": "us-east-1",
        "LIVE_LOG": live_url,
    }
    live = build_live_log(live_url, spool_dir=tmp_path)
    store = build_log_store(
        f"s3://{bucket}", endpoint_url=f"http://{s3_endpoint}", access_key="testing", secret_key="testing",
        region="us-east-1",
    )  # fmt: skip
    # Only a worker with the production configuration may run this execution's runner.
    app.control.cancel_consumer("runner", destination=[worker.name], reply=True, timeout=5)
    runner = None
    try:
        name = f"prodlogs-{os.getpid()}@%h"
        runner = h.start_worker(env, name, "runner", 2, tmp_path / "runner.log")
        pipeline = make_pipeline(make_repo(PIPELINE))
        ProjectSecret.objects.create(project=pipeline.project, name="api", data={"token": SECRET})
        execution = trigger(pipeline)

        # While it runs: the output is readable from Redis, from an offset, already masked.
        step = h.wait_until(
            lambda: (s := h.steps_of(execution.pk).get("noisy")) and s.log_key and s.state == State.BUILDING and s,
            30,
            "step never started",
        )
        h.wait_until(lambda: b"still running" in (live.read(step.log_key) or b""), 30, "no live output in Redis")
        first = read_log(step.log_key, 0, 100, live=live, store=store)
        expected_start = "".join(f"line {i}\n" for i in range(20)).encode()[:100]
        assert not first.complete and first.data == expected_start and first.next_offset == 100
        assert SECRET.encode() not in live.read(step.log_key)

        final = h.wait_final(execution.pk, timeout=60)
        assert final.state == State.SUCCESS, h.describe(execution.pk)
    finally:
        if runner is not None:
            h.stop_worker(runner)
        app.control.add_consumer("runner", destination=[worker.name], reply=True, timeout=5)

    stored = store.read(step.log_key)
    expected = "".join(f"line {i}\n" for i in range(2000)) + "token=********\nstill running\ndone\n"
    assert stored.decode() == expected
    assert live.read(step.log_key) is None  # handed over, the live copy is gone
    whole = read_log(step.log_key, 0, None, live=live, store=store)
    assert whole.complete and whole.data == stored
    # The session's filesystem store never saw it.
    from devops.logs import get_log_store

    assert get_log_store().size(step.log_key) is None
