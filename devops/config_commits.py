"""Saving an edited pipeline file back to its repository, as a commit by the user who edited it.

The web editor hands over the file's text; here it is checked the way an execution would read it
(``parse_for_pipeline``, with the project's templates), then committed through the provider's API with
the *editing user's* own token: a commit shows who made it, and the user's push rights, not the
pipeline's stored credential (often an administrator's), decide whether it may be made.

What callers get back: the new commit's sha, or one of
- ``PipelineConfigError`` (unchanged: its errors carry file:line:col for the editor to point at),
- ``CannotSave`` (no API for this repository, no account of the user at the provider, an account that
  may not see the repository or push to it, a sign-in that cannot be renewed),
- ``ProviderError`` (the provider refused or failed otherwise; status 409 when the file changed since).
"""

from __future__ import annotations

import logging
from typing import Any

from devops.models import Pipeline
from devops.models.scm import SourceCodeCredential
from devops.pipeline_config import PIPELINE_FILE_NAMES
from devops.scm.base import ProviderError
from devops.scm.credentials import fresh_token
from devops.scm.registry import get_provider, provider_class
from devops.scm.repo_urls import strip_userinfo
from devops.triggers import parse_for_pipeline

log = logging.getLogger(__name__)

DEFAULT_FILE_NAME = PIPELINE_FILE_NAMES[0]  # .devops.yml
DEFAULT_MESSAGE = "Update pipeline file"


class CannotSave(PermissionError):
    """The file cannot be committed by this user to this pipeline's repository; ``message`` says why
    and what to do (safe to show: no token, no secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def save_pipeline_file(
    pipeline: Pipeline,
    user: Any,
    text: str,
    message: str = DEFAULT_MESSAGE,
    *,
    path: str | None = None,
    base_commit: str | None = None,
) -> str:
    """Parse ``text``, then commit it as the pipeline file on the pipeline's default branch as ``user``;
    returns the new commit's sha.

    The file keeps the name the repository already uses (the first of ``PIPELINE_FILE_NAMES`` present on
    the default branch), else it becomes ``.devops.yml``. Parsing comes first and needs no network, so
    a broken file is reported without a round trip; its errors are named after the file the last
    execution read (the usual name), since the repository is only asked once the text is valid.
    ``path`` (one of the pipeline file names) skips the lookup; ``base_commit`` is the commit the edit
    started from, so a file changed since is refused (409) instead of overwritten.
    """
    if path is not None and path not in PIPELINE_FILE_NAMES:
        raise CannotSave(f"the pipeline file must be one of {', '.join(PIPELINE_FILE_NAMES)}, not {path!r}")
    parse_for_pipeline(pipeline, text, path or _likely_file_name(pipeline))
    label = _label(pipeline.provider)
    if pipeline.provider == "git" or not provider_class(pipeline.provider).has_api:
        raise CannotSave(
            "this pipeline's repository is plain git, with no provider API to commit through: push the file with git"
        )
    if user is None or not getattr(user, "is_authenticated", False):
        raise CannotSave(f"sign in to save the pipeline file: it is committed to {label} as you")
    credential = _user_credential(pipeline, user, label)
    provider = get_provider(pipeline.provider, credential.host)
    repo = provider.repo_path(pipeline.repository_url)
    branch = pipeline.default_branch
    try:
        token = fresh_token(credential)
    except ProviderError as exc:
        raise CannotSave(f"your {label} sign-in could not be renewed ({exc}): sign in to {label} again") from None
    try:
        name = path or next(
            (n for n in PIPELINE_FILE_NAMES if provider.fetch_file(token, repo, n, branch) is not None),
            DEFAULT_FILE_NAME,
        )
        sha = provider.commit_file(
            token, repo, name, branch, text, message.strip() or DEFAULT_MESSAGE, base_commit=base_commit or None
        )
    except ProviderError as exc:
        if exc.status == 401:
            raise CannotSave(f"{label} refused the token of your account {credential.login}: sign in again") from None
        if exc.status == 403:
            raise CannotSave(str(exc)) from None
        if exc.status == 404:
            raise CannotSave(
                f"your {label} account {credential.login} cannot see {repo} or its branch {branch}"
            ) from None
        raise
    log.info("user %s committed %s of pipeline %s to %s (%s)", user.pk, name, pipeline.pk, branch, sha)
    return sha


def _label(provider: str) -> str:
    try:
        return provider_class(provider).label or provider
    except KeyError:
        return provider


def _likely_file_name(pipeline: Pipeline) -> str:
    """The file the latest execution read, when it was a pipeline file (not a temporary config)."""
    latest = pipeline.executions.order_by("-pk").values_list("config_file", flat=True).first()
    return latest if latest in PIPELINE_FILE_NAMES else DEFAULT_FILE_NAME


def user_credential(pipeline: Pipeline, user: Any) -> SourceCodeCredential | None:
    """The credential ``save_pipeline_file`` would commit with, or None (e.g. to grey out a button)."""
    try:
        return _user_credential(pipeline, user, _label(pipeline.provider))
    except CannotSave:
        return None


def _user_credential(pipeline: Pipeline, user: Any, label: str) -> SourceCodeCredential:
    """``user``'s own credential for the pipeline's provider and host (the pipeline's credential's host,
    or, without one, the instance whose base URL the repository URL starts with, else the public
    service). The pipeline's credential is used only when it is the user's."""
    mine = list(
        SourceCodeCredential.objects.filter(user=user, provider=pipeline.provider).order_by("-created_at", "-pk")
    )
    stored = pipeline.credential if pipeline.credential_id else None
    if stored is not None:
        host = stored.host.rstrip("/")
        matching = [c for c in mine if c.host.rstrip("/") == host]
    else:
        url = strip_userinfo(pipeline.repository_url.strip())
        host = next((c.host.rstrip("/") for c in mine if c.host and url.startswith(c.host.rstrip("/") + "/")), "")
        matching = [c for c in mine if c.host.rstrip("/") == host]
    if not matching:
        where = f" at {host}" if host else ""
        raise CannotSave(
            f"connect your {label} account{where} to save the pipeline file: it is committed as you, "
            "not with the pipeline's credential"
        )
    matching.sort(key=lambda c: stored is None or c.pk != stored.pk)  # the pipeline's own, when it is the user's
    return matching[0]
