"""``manage.py demo`` (what ``make demo`` runs): the sample repository twice, cold then warm cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devops.models import PipelineExecution
from devops.selectors import project_setting
from devops.services import ensure_pipeline, ensure_project

SAMPLE = Path(settings.BASE_DIR) / "examples" / "sample-app"
PROJECT, PIPELINE = "demo", "sample-app"


def _git(repo: Path, *args: str) -> None:
    ident = ["-c", "user.name=Demo Developer", "-c", "user.email=demo@example.com"]
    subprocess.run(["git", *ident, *args], cwd=repo, check=True, stdout=subprocess.DEVNULL)


class Command(BaseCommand):
    help = "Run examples/sample-app through the engine twice and show what the cache saved."

    def handle(self, *args: Any, **opts: Any) -> None:
        repo = Path(settings.VAR_DIR) / "demo" / PIPELINE
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("build", "dist", ".cache"))
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "qcalc: sample application")
        self._clear_cache(repo)
        runs = []
        for label in ("first run: cold cache", "second run: warm cache"):
            self.stdout.write(self.style.MIGRATE_HEADING(f"\n=== {label} ==="))
            code = subprocess.call(
                [sys.executable, "manage.py", "runpipeline", str(repo), "--project", PROJECT, "--pipeline", PIPELINE],
                cwd=settings.BASE_DIR,
            )
            if code != 0:
                raise CommandError(f"the {label.split(':')[0]} ended with exit code {code}")
            runs.append(PipelineExecution.objects.filter(pipeline__project__name=PROJECT).order_by("-id").first())
        self._compare(*runs)

    def _clear_cache(self, repo: Path) -> None:
        """The first run must really start cold, even when the demo ran before: from this checkout, or
        from another one sharing the cache root (the default /var/lib/devops/cache)."""
        pipeline, _ = ensure_pipeline(ensure_project(PROJECT), PIPELINE, str(repo))
        root = Path(project_setting(pipeline.project_id, "cache-root"))
        shutil.rmtree(root / PROJECT / str(pipeline.pk), ignore_errors=True)

    def _compare(self, cold: PipelineExecution, warm: PipelineExecution) -> None:
        def seconds(execution: PipelineExecution, stage: str | None = None) -> float:
            if stage is None:
                return (execution.ended_at - execution.started_at).total_seconds()
            row = execution.stages.get(name=stage)
            return (row.ended_at - row.started_at).total_seconds()

        self.stdout.write(self.style.MIGRATE_HEADING("\n=== cache speed-up ==="))
        for label, stage in (("Build stage", "Build"), ("whole execution", None)):
            a, b = seconds(cold, stage), seconds(warm, stage)
            self.stdout.write(f"{label:16} cold {a:6.2f}s  warm {b:6.2f}s  speed-up {a / max(b, 1e-3):4.1f}x")
