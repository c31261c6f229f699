"""Tool images (project settings ``image-*``) and the shell each one offers the runner script."""

from __future__ import annotations

import re

DEFAULT_IMAGES = {
    "image-runner": "busybox:1.36.1",
    "image-git": "alpine/git:2.45.2",
    # The :debug variant: the plain kaniko image has no shell at all, and the runner script (waiting for
    # the previous stage, markers, termination message) needs one; debug ships busybox in /busybox.
    "image-kaniko": "gcr.io/kaniko-project/executor:v1.23.2-debug",
    "image-kubectl": "alpine/k8s:1.29.4",
    "image-helm": "alpine/helm:3.14.4",
}
# Where the runner finds a POSIX shell, per step kind (kaniko's debug image has no /bin/sh).
SHELLS = {"publishImage": "/busybox/sh"}
DEFAULT_SHELL = "/bin/sh"
_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/:@-]*[a-zA-Z0-9_.-])?$")


def validate_image(value: str) -> None:
    """An image reference such as ``busybox:1.36.1`` or ``registry:5000/team/tool@sha256:...``."""
    if not _IMAGE.match(value) or len(value) > 500:
        raise ValueError(f"expected an image reference such as busybox:1.36.1, got {value!r}")


def shell_for(kind: str) -> str:
    return SHELLS.get(kind, DEFAULT_SHELL)
