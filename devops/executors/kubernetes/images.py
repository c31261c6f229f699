"""The shell each tool image (project settings ``image-*``, defaults in ``devops.project_settings``)
offers the runner script. The kaniko default is a :debug image: the plain one has no shell at all."""

from __future__ import annotations

# Where the runner finds a POSIX shell, per step kind (kaniko's debug image has no /bin/sh).
SHELLS = {"publishImage": "/busybox/sh"}
DEFAULT_SHELL = "/bin/sh"


def shell_for(kind: str) -> str:
    return SHELLS.get(kind, DEFAULT_SHELL)
