"""``manage.py runpipeline REPO``: run a repository's pipeline through the real engine, live."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from devops import engine
from devops.cli.follow import follow
from devops.cli.worker import start_embedded_worker, worker_is_running
from devops.engine import maintenance
from devops.executors.environment import repo_name
from devops.models import PipelineExecution
from devops.pipeline_config import PipelineConfigError
from devops.services import ensure_pipeline, ensure_project
from devops.states import State
from devops.triggers import TriggerError, trigger_pipeline

EXIT = {State.SUCCESS: 0, State.FAILED: 1, State.ABORTED: 3, State.SKIPPED: 0}
EXIT_INVALID = 2


class Command(BaseCommand):
    help = (
        "Run REPO's pipeline (a path or git URL) and stream step states and logs. Exit 0 Success, 1 Failed,"
        " 2 invalid pipeline file or input, 3 Aborted or timed out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repo")
        ref = parser.add_mutually_exclusive_group()
        ref.add_argument("--branch")
        ref.add_argument("--tag")
        parser.add_argument("--commit", help="full SHA (default: the head of the branch or tag)")
        parser.add_argument("--event", choices=["push", "pull_request", "tag", "manual", "image", "cron"])
        parser.add_argument("--config", help="run this pipeline file instead of the repository's")
        parser.add_argument("--project", default="default")
        parser.add_argument("--pipeline", help="pipeline name (default: the repository name)")
        parser.add_argument("--quiet", action="store_true", help="print only the final state")
        parser.add_argument(
            "--print-manifest",
            action="store_true",
            help="print the pod (YAML) the Kubernetes executor would create for this run, and exit;"
            " needs no cluster and no worker, creates nothing",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        config_text = config_name = None
        if opts["config"]:
            path = Path(opts["config"])
            try:
                config_text, config_name = path.read_text(), str(path)
            except (OSError, UnicodeDecodeError) as exc:
                self._fail(f"cannot read {path}: {exc}")
        name = opts["pipeline"] or re.sub(r"[^a-z0-9-]+", "-", repo_name(opts["repo"]).lower()).strip("-") or "pipeline"
        if opts["print_manifest"]:
            self._print_manifest(opts, name, config_text, config_name or "")
            return
        project = ensure_project(opts["project"])
        pipeline, _ = ensure_pipeline(project, name, opts["repo"])
        if not worker_is_running():
            start_embedded_worker()
        started = time.monotonic()
        try:
            execution = trigger_pipeline(
                pipeline,
                branch=opts["branch"],
                tag=opts["tag"],
                commit=opts["commit"],
                event=opts["event"],
                config_text=config_text,
                config_name=config_name or "",
            )
        except PipelineConfigError as exc:
            self._fail(str(exc))
        except TriggerError as exc:
            self._fail(f"error: {exc}")
        out = self.stdout
        if not opts["quiet"]:
            out.write(f"{project.name}/{pipeline.name} #{execution.run} ({execution.commit[:7]} on "
                      f"{execution.branch or execution.tag}): {execution.state}")
        interrupted = self._abort_on_interrupt(execution.pk)
        last_net = [time.monotonic()]

        on_cluster = project.cluster_id is not None

        def tick() -> None:
            # The CLI may be the only process watching (no beat): read the pods, repair a dead runner.
            if on_cluster:
                maintenance.sync_clusters()
            if time.monotonic() - last_net[0] > 5:
                last_net[0] = time.monotonic()
                maintenance.fail_silent_runners()

        stream = open(os.devnull, "w") if opts["quiet"] else out._out  # noqa: SIM115 - lives as long as the command
        state = follow(execution.pk, out=stream, show_logs=not opts["quiet"], on_tick=tick)
        execution = PipelineExecution.objects.get(pk=execution.pk)
        took = time.monotonic() - started
        reason = f": {execution.reason}" if execution.reason else ""
        out.write(f"{project.name}/{pipeline.name} #{execution.run} {state} in {took:.1f}s{reason}")
        sys.exit(3 if interrupted[0] else EXIT.get(state, 1))

    def _print_manifest(self, opts: dict[str, Any], name: str, config_text: str | None, config_name: str) -> None:
        from devops.executors.kubernetes.manifest_cli import manifest_for_repository, to_yaml

        try:
            manifest = manifest_for_repository(
                opts["repo"],
                project=opts["project"],
                pipeline=name,
                branch=opts["branch"],
                tag=opts["tag"],
                commit=opts["commit"],
                event=opts["event"],
                config_text=config_text,
                config_name=config_name,
            )
        except PipelineConfigError as exc:
            self._fail(str(exc))
        except TriggerError as exc:
            self._fail(f"error: {exc}")
        self.stdout.write(to_yaml(manifest), ending="")

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(EXIT_INVALID)

    @staticmethod
    def _abort_on_interrupt(execution_id: int) -> list[bool]:
        interrupted = [False]

        def handler(signum: int, frame: object) -> None:
            interrupted[0] = True
            engine.abort(execution_id, "aborted from the command line")

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        return interrupted
