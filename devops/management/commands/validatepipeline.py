"""``manage.py validatepipeline FILE``: exit 0, or 2 with every error as FILE:LINE:COL: text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from devops.pipeline_config import PipelineConfigError, parse_pipeline


class Command(BaseCommand):
    help = "Validate a pipeline file; print each error with its line and column."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.stderr.write(f"{path}: cannot read: {exc.strerror}")
            sys.exit(2)
        try:
            spec = parse_pipeline(data, filename=str(path))
        except PipelineConfigError as exc:
            for error in exc.errors:
                self.stdout.write(str(error))
            sys.exit(2)
        steps = sum(len(stage.steps) for stage in spec.stages)
        self.stdout.write(f"{path}: valid ({len(spec.stages)} stages, {steps} steps)")
