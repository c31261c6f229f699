"""Plain git: any URL with a username/password or token; no API, so no webhooks or statuses.

Such pipelines are started by hand, by schedules, or by polling (``devops.triggers_poll``); a
provider webhook can still be pointed at them by hand, and is then verified as its own provider.
"""

from __future__ import annotations

from typing import ClassVar

from .base import ScmProvider
from .registry import register


class PlainGit(ScmProvider):
    name: ClassVar[str] = "git"
    label: ClassVar[str] = "Git"
    has_api: ClassVar[bool] = False


register(PlainGit)
