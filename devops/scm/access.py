"""A pipeline's way into its repository: which provider plug-in, which token, which git user name.

Every caller that talks to a pipeline's repository (triggers, executors, statuses, webhook
registration) asks here, so a token is refreshed before it expires in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass

from devops.models import Pipeline

from . import git
from .base import ScmProvider
from .registry import get_provider


@dataclass(frozen=True)
class GitAuth:
    token: str
    username: str = "x-access-token"

    def env(self) -> dict[str, str]:
        return git.auth_env(self.token, self.username)

    def secret_forms(self) -> list[str]:
        return git.secret_forms(self.token, self.username)


def provider_for(pipeline: Pipeline) -> ScmProvider:
    host = pipeline.credential.host if pipeline.credential_id and pipeline.credential else ""
    return get_provider(pipeline.provider, host)


def api_token(pipeline: Pipeline) -> str | None:
    """A valid (refreshed if about to expire) token of the pipeline's credential, or None."""
    if not pipeline.credential_id or pipeline.credential is None:
        return None
    from .credentials import fresh_token

    return fresh_token(pipeline.credential) or None


def git_auth(pipeline: Pipeline) -> GitAuth:
    token = api_token(pipeline) or ""
    return GitAuth(token, provider_for(pipeline).token_username)


def can_use_api(pipeline: Pipeline) -> bool:
    return bool(pipeline.credential_id) and provider_for(pipeline).has_api
