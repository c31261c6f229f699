"""``manage.py createpipeline``: register a repository and print what its webhook needs."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from devops.executors.environment import repo_name
from devops.models.scm import Provider
from devops.services import ensure_pipeline, ensure_project


class Command(BaseCommand):
    help = "Create (or reuse) a pipeline; print its id, webhook URL and webhook secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--repo", required=True)
        parser.add_argument("--provider", default="git", choices=[value for value, _ in Provider.choices])
        parser.add_argument("--poll", action="store_true", help="poll the repository for new commits (plain git)")
        parser.add_argument("--name")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        project = ensure_project(opts["project"])
        name = opts["name"] or re.sub(r"[^a-z0-9-]+", "-", repo_name(opts["repo"]).lower()).strip("-")
        pipeline, created = ensure_pipeline(project, name, opts["repo"], opts["provider"])
        if (pipeline.provider, pipeline.poll) != (opts["provider"], opts["poll"] or pipeline.poll):
            pipeline.provider = opts["provider"]
            pipeline.poll = opts["poll"] or pipeline.poll
            pipeline.save(update_fields=["provider", "poll"])
        data = {
            "id": pipeline.pk,
            "project": project.name,
            "name": pipeline.name,
            "created": created,
            "webhook_url": f"{settings.PUBLIC_URL.rstrip('/')}/hooks/pipelines/{pipeline.pk}/",
            "webhook_secret": pipeline.webhook_secret,
            "poll": pipeline.poll,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(data, indent=2))
        else:
            for key, value in data.items():
                self.stdout.write(f"{key}: {value}")
