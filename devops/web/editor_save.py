"""Whether the visual editor's Save button can work, and why not (the commit itself is
``devops.config_commits.save_pipeline_file``).

The commit is made with the *user's own* credential for the pipeline's provider, not the pipeline's:
the provider then checks that this person may push to the branch, and the commit carries their name.
Whether saving is possible is decided at run time: a provider plug-in that does not override
``ScmProvider.commit_file`` cannot commit, and the editor says so instead of offering a button that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devops.access import Role
from devops.config_commits import user_credential
from devops.models import Pipeline
from devops.scm.access import provider_for
from devops.scm.base import ProviderError, ScmProvider

NO_PROVIDER_SUPPORT = "saving to the repository needs provider support (coming)"


@dataclass(frozen=True)
class SaveSupport:
    """Whether the Save button works for this user and pipeline, and if not, the tooltip saying why."""

    enabled: bool
    reason: str = ""


def provider_can_commit(provider: ScmProvider) -> bool:
    method = getattr(type(provider), "commit_file", None)
    return method is not None and method is not getattr(ScmProvider, "commit_file", None)


def save_support(pipeline: Pipeline, user: Any, role: Role | None) -> SaveSupport:
    try:
        provider = provider_for(pipeline)
    except (ProviderError, KeyError, LookupError):
        return SaveSupport(False, NO_PROVIDER_SUPPORT)
    label = provider.label or provider.name or pipeline.provider
    if not provider.has_api:
        return SaveSupport(False, f"{label} repositories have no API to commit through; commit the file with git")
    if not provider_can_commit(provider):
        return SaveSupport(False, NO_PROVIDER_SUPPORT)
    if role is None or role < Role.OWNER:
        return SaveSupport(False, "only project owners can save the pipeline file to the repository")
    if user_credential(pipeline, user) is None:  # the same lookup the commit uses
        return SaveSupport(False, f"sign in with {label} once so the service can commit as you")
    return SaveSupport(True)
