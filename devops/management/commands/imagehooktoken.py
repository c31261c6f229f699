"""``manage.py imagehooktoken PROJECT``: a new image-push webhook URL for the project (shown once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devops.models import Project
from devops.webhooks.images import image_hook_url, rotate_image_hook_token


class Command(BaseCommand):
    help = (
        "Make a new image-push webhook URL for a project (Harbor, Docker Hub, Alibaba Cloud ACR). "
        "The previous URL stops working. Only a digest is stored: the URL is shown this once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's name")

    def handle(self, *args: Any, **opts: Any) -> None:
        project = Project.objects.filter(name=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project named {opts['project']!r}")
        token = rotate_image_hook_token(project)
        self.stdout.write(image_hook_url(token))
        self.stderr.write(
            f"The image hook URL of project {project.name} (shown once; it is not stored, and any earlier"
            " URL no longer works). Set it as the registry's webhook endpoint; image triggers of the"
            " project's pipelines decide what it starts."
        )
