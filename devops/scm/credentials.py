"""A user's provider credential in use: a token that is still valid, and the repositories it administers.

Refresh tokens rotate on GitLab, Bitbucket and GitHub Apps: using one invalidates it. Two workers that
both see an expiring token must therefore not both refresh with the same refresh token (the second
would fail and could revoke the grant). ``fresh_token`` refreshes under ``SELECT ... FOR UPDATE`` on
the credential row and re-reads it after the lock: whoever waited finds the new token and uses it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db import transaction

from devops.models.scm import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository

from .base import ProviderError, RepoInfo
from .registry import get_provider

log = logging.getLogger(__name__)

# Refresh a little before expiry so a token does not lapse between this check and its use.
REFRESH_MARGIN = timedelta(minutes=5)


def _expiring(credential: SourceCodeCredential, now: datetime) -> bool:
    return bool(
        credential.refresh_token and credential.expires_at is not None and credential.expires_at <= now + REFRESH_MARGIN
    )


def _client_credentials(credential: SourceCodeCredential) -> tuple[str, str]:
    """The OAuth client that issued the token: the configuration for the same provider and host.

    A configuration that was disabled still refreshes: disabling stops new sign-ins, not the
    pipelines that already use a credential.
    """
    config = SourceCodeProviderConfig.objects.filter(provider=credential.provider, host=credential.host).first()
    if config is None or not config.client_id:
        raise ProviderError(
            f"cannot refresh the {credential.provider} token of {credential.login}: "
            "no provider configuration for its host"
        )
    return config.client_id, config.client_secret


def fresh_token(credential: SourceCodeCredential) -> str:
    """The credential's access token, refreshed first when it expires within REFRESH_MARGIN.

    A token without an expiry or without a refresh token is returned as it is (no call). ``credential``
    is updated in place with what was stored. A refused refresh raises ProviderError; the user then has
    to sign in again, which replaces the credential.
    """
    if not _expiring(credential, datetime.now(UTC)):
        return credential.access_token
    with transaction.atomic():
        locked = SourceCodeCredential.objects.select_for_update().get(pk=credential.pk)
        if _expiring(locked, datetime.now(UTC)):
            client_id, client_secret = _client_credentials(locked)
            tokens = get_provider(locked.provider, locked.host).refresh_token(
                client_id, client_secret, locked.refresh_token
            )
            locked.access_token = tokens.access_token
            # A provider that does not rotate answers without a refresh token: keep the old one.
            locked.refresh_token = tokens.refresh_token or locked.refresh_token
            locked.expires_at = tokens.expires_at
            locked.save(update_fields=["access_token", "refresh_token", "expires_at"])
            log.info("refreshed the %s token of credential %s", locked.provider, locked.pk)
        # else: another worker refreshed while we waited for the lock; use its token.
    credential.access_token = locked.access_token
    credential.refresh_token = locked.refresh_token
    credential.expires_at = locked.expires_at
    return locked.access_token


def administered(repos: list[RepoInfo]) -> list[RepoInfo]:
    """Only repositories the user administers: adding a webhook needs admin rights on the repository."""
    return [repo for repo in repos if repo.permissions.get("admin") and repo.url]


def sync_repositories(credential_id: int) -> int:
    """Mirror the repositories the credential ADMINISTERS into SourceCodeRepository; returns how many.

    Why only admin: a pipeline is created from one of these rows and immediately registers a webhook,
    which every provider reserves to repository administrators; listing the others would offer
    repositories that cannot be built on push. The provider client follows every page. Rows for
    repositories no longer listed (deleted, access lost, admin right revoked) are deleted; a missing
    credential (deleted since the task was queued) is a no-op.
    """
    credential = SourceCodeCredential.objects.filter(pk=credential_id).first()
    if credential is None:
        return 0
    provider = get_provider(credential.provider, credential.host)
    repos = administered(provider.list_repositories(fresh_token(credential)))
    by_url = {repo.url: repo for repo in repos}  # one row per URL even if a provider repeats an item
    with transaction.atomic():
        # Lock the credential so two syncs of it (two logins in a row) apply one after the other.
        SourceCodeCredential.objects.select_for_update().filter(pk=credential_id).first()
        existing = {row.url: row for row in SourceCodeRepository.objects.filter(credential_id=credential_id)}
        for url, repo in by_url.items():
            values = {
                "clone_url": repo.clone_url,
                "default_branch": repo.default_branch or "main",
                "permissions": dict(repo.permissions),
            }
            row = existing.get(url)
            if row is None:
                SourceCodeRepository.objects.create(credential_id=credential_id, url=url, **values)
            elif any(getattr(row, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                row.save(update_fields=list(values))
        gone = [row.pk for url, row in existing.items() if url not in by_url]
        if gone:
            SourceCodeRepository.objects.filter(pk__in=gone).delete()
    return len(by_url)
