"""fresh_token (refresh before expiry, rotation, one refresh under concurrency) and sync_repositories,
against the fake providers over real HTTP."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from devops.models.scm import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository
from devops.scm.base import ProviderError
from devops.scm.credentials import fresh_token, sync_repositories
from devops.testing.fake_scm import FakeScm

TOKEN_PATHS = {
    "github": "/login/oauth/access_token",
    "gitlab": "/oauth/token",
    "bitbucket": "/site/oauth2/access_token",
}


def setup_credential(fake: FakeScm, *, expires_in: timedelta | None, refresh: bool = True,
                     login: str = "octo") -> SourceCodeCredential:
    """A user's credential issued by ``fake`` through a registered OAuth client (configuration row)."""
    if login not in fake.users:
        fake.add_user(login)
    client_id, client_secret = f"client-{secrets.token_hex(4)}", secrets.token_hex(20)
    fake.oauth_clients[client_id] = client_secret
    SourceCodeProviderConfig.objects.update_or_create(
        provider=fake.provider, host=fake.url,
        defaults={"client_id": client_id, "client_secret": client_secret, "enabled": True},
    )
    tokens = fake.issue_tokens(login)
    user, _ = get_user_model().objects.get_or_create(username=f"{login}-{fake.provider}")
    return SourceCodeCredential.objects.create(
        user=user, provider=fake.provider, host=fake.url, login=login,
        access_token=tokens["access_token"], refresh_token=tokens["refresh_token"] if refresh else "",
        expires_at=None if expires_in is None else datetime.now(UTC) + expires_in,
    )


def token_calls(fake: FakeScm) -> int:
    return len(fake.calls("POST", "^" + TOKEN_PATHS[fake.provider] + "$"))


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_an_expiring_token_is_refreshed_and_the_refresh_token_rotates(provider: str, start_fake: Any) -> None:
    fake = start_fake(provider)
    credential = setup_credential(fake, expires_in=timedelta(minutes=4))
    old_access, old_refresh = credential.access_token, credential.refresh_token

    token = fresh_token(credential)

    assert token_calls(fake) == 1
    assert token == fake.users["octo"].token != old_access
    stored = SourceCodeCredential.objects.get(pk=credential.pk)
    assert stored.access_token == token == credential.access_token
    assert stored.refresh_token != old_refresh and stored.refresh_token in fake.refresh_tokens
    assert old_refresh not in fake.refresh_tokens  # used up at the provider
    assert stored.expires_at is not None and stored.expires_at > datetime.now(UTC) + timedelta(hours=1)
    # Now fresh: no second call.
    assert fresh_token(stored) == token
    assert token_calls(fake) == 1


@pytest.mark.django_db
def test_an_expired_token_is_refreshed_too(start_fake: Any) -> None:
    fake = start_fake("gitlab")
    credential = setup_credential(fake, expires_in=-timedelta(hours=1))
    assert fresh_token(credential) == fake.users["octo"].token
    assert token_calls(fake) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("expires_in,refresh", [(timedelta(hours=1), True), (None, True),
                                                (-timedelta(minutes=1), False)])
def test_no_refresh_call_when_not_expiring_or_nothing_to_refresh_with(
    start_fake: Any, expires_in: timedelta | None, refresh: bool
) -> None:
    fake = start_fake("github")
    credential = setup_credential(fake, expires_in=expires_in, refresh=refresh)
    assert fresh_token(credential) == credential.access_token
    assert token_calls(fake) == 0
    assert not fake.requests


@pytest.mark.django_db
def test_a_refused_refresh_raises_without_secrets_and_keeps_the_credential(start_fake: Any) -> None:
    fake = start_fake("bitbucket")
    credential = setup_credential(fake, expires_in=timedelta(minutes=1))
    fake.refresh_tokens.clear()  # revoked at the provider
    config = SourceCodeProviderConfig.objects.get(provider="bitbucket", host=fake.url)
    with pytest.raises(ProviderError) as raised:
        fresh_token(credential)
    message = str(raised.value)
    for secret in (credential.refresh_token, credential.access_token, config.client_secret):
        assert secret not in message
    stored = SourceCodeCredential.objects.get(pk=credential.pk)
    assert (stored.access_token, stored.refresh_token) == (credential.access_token, credential.refresh_token)


@pytest.mark.django_db
def test_refresh_without_a_configuration_is_a_provider_error(start_fake: Any) -> None:
    fake = start_fake("github")
    credential = setup_credential(fake, expires_in=timedelta(minutes=1))
    SourceCodeProviderConfig.objects.all().delete()
    with pytest.raises(ProviderError, match="no provider configuration"):
        fresh_token(credential)
    assert token_calls(fake) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_use_the_refresh_token_once(start_fake: Any) -> None:
    """Two workers holding the same stale row: one refreshes, the other waits, re-reads and reuses."""
    fake = start_fake("gitlab")
    credential = setup_credential(fake, expires_in=timedelta(minutes=1))
    copies = [SourceCodeCredential.objects.get(pk=credential.pk) for _ in range(4)]
    barrier = threading.Barrier(len(copies))
    results: list[str] = []
    errors: list[BaseException] = []

    def work(copy: SourceCodeCredential) -> None:
        try:
            barrier.wait()
            results.append(fresh_token(copy))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert token_calls(fake) == 1
    assert len(set(results)) == 1 and results[0] == fake.users["octo"].token
    assert SourceCodeCredential.objects.get(pk=credential.pk).access_token == results[0]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_sync_keeps_only_administered_repositories_across_pages_and_follows_changes(
    provider: str, start_fake: Any, make_repo: Callable[..., Any]
) -> None:
    fake = start_fake(provider)
    fake.add_user("octo")
    fake.add_user("other")
    path = make_repo(name="app").path
    admin_names = [f"octo/repo{i}" for i in range(5)]  # three pages of two
    for name in admin_names:
        fake.add_repo(name, path, admins={"octo"})
    fake.add_repo("other/shared", path, admins={"other"}, readers={"octo"})
    fake.add_repo("other/private", path, admins={"other"})
    credential = setup_credential(fake, expires_in=timedelta(hours=2))

    assert sync_repositories(credential.pk) == 5
    rows = {row.url: row for row in SourceCodeRepository.objects.filter(credential=credential)}
    assert set(rows) == {f"{fake.url}/{name}" for name in admin_names}
    assert all(row.permissions.get("admin") is True for row in rows.values())

    # Admin right lost on one, one deleted, one new, a default branch renamed.
    fake.repos["octo/repo0"].admins.clear()
    fake.repos["octo/repo0"].readers.add("octo")
    del fake.repos["octo/repo1"]
    fake.add_repo("octo/new", path, admins={"octo"})
    fake.repos["octo/repo2"].default_branch = "trunk"
    kept = rows[f"{fake.url}/octo/repo3"].pk

    assert sync_repositories(credential.pk) == 4
    rows = {row.url: row for row in SourceCodeRepository.objects.filter(credential=credential)}
    assert set(rows) == {f"{fake.url}/octo/{name}" for name in ("repo2", "repo3", "repo4", "new")}
    assert rows[f"{fake.url}/octo/repo2"].default_branch == "trunk"
    assert rows[f"{fake.url}/octo/repo3"].pk == kept  # updated in place, not re-created


@pytest.mark.django_db
def test_sync_refreshes_an_expiring_token_first_and_ignores_a_deleted_credential(
    start_fake: Any, make_repo: Callable[..., Any]
) -> None:
    fake = start_fake("github")
    fake.add_user("octo")
    fake.add_repo("octo/app", make_repo().path, admins={"octo"})
    credential = setup_credential(fake, expires_in=timedelta(minutes=2))
    assert sync_repositories(credential.pk) == 1
    assert token_calls(fake) == 1
    assert SourceCodeCredential.objects.get(pk=credential.pk).access_token == fake.users["octo"].token

    pk = credential.pk
    credential.delete()
    assert sync_repositories(pk) == 0
