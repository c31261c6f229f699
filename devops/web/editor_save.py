"""Saving the visual editor's file to the repository through the provider's API (a commit).

The commit is made with the *user's own* credential for the pipeline's provider, not the pipeline's:
the provider then checks that this person may push to the branch, and the commit carries their name.
Whether saving is possible is decided at run time: a provider plug-in that does not override
``ScmProvider.commit_file`` cannot commit, and the editor says so instead of offering a button that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devops.access import Role
from devops.models import Pipeline, SourceCodeCredential
from devops.scm.access import provider_for
from devops.scm.base import ProviderError, ScmProvider

NO_PROVIDER_SUPPORT = "saving to the repository needs provider support (coming)"


@dataclass(frozen=True)
class SaveSupport:
    """Whether the Save button works for this user and pipeline, and if not, the tooltip saying why."""

    enabled: bool
    reason: str = ""


def _host(pipeline: Pipeline) -> str:
    return pipeline.credential.host if pipeline.credential_id and pipeline.credential else ""


def user_credential(pipeline: Pipeline, user: Any) -> SourceCodeCredential | None:
    """The user's newest credential for the pipeline's provider and host."""
    return (
        SourceCodeCredential.objects.filter(user_id=user.pk, provider=pipeline.provider, host=_host(pipeline))
        .order_by("-created_at", "-id")
        .first()
    )


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
    if user_credential(pipeline, user) is None:
        return SaveSupport(False, f"sign in with {label} once so the service can commit as you")
    return SaveSupport(True)


def save_pipeline_file(
    pipeline: Pipeline, user: Any, text: str, *, path: str, message: str, base_commit: str | None
) -> str:
    """Commit ``text`` as ``path`` on the pipeline's default branch; the new commit's sha.

    Raises ProviderError (its ``status`` 409 when the file changed since ``base_commit``).
    """
    from devops.scm.credentials import fresh_token

    provider = provider_for(pipeline)
    credential = user_credential(pipeline, user)
    if credential is None or not provider_can_commit(provider):
        raise ProviderError("saving needs your own credential for this provider and provider support")
    token = fresh_token(credential)
    repo = provider.repo_path(pipeline.repository_url)
    return provider.commit_file(
        token, repo, path, pipeline.default_branch, text, message, base_commit=base_commit or None
    )
