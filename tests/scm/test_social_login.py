"""Sign in with GitHub, GitLab and Bitbucket through the real social-auth views and pipeline.

The provider is the fake over real HTTP. It has no authorize page: the test reads the authorize URL our
login view redirects to, registers a code for a user at the fake, and calls our callback with that code
and the state, as the provider's redirect would. The repository sync the pipeline enqueues on commit is
run directly in most tests (the test transaction never commits), and through the real Celery worker in
one, so the whole chain login -> commit -> task -> repositories is exercised once end to end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from social_django.models import UserSocialAuth

from devops.models.scm import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository
from devops.scm.credentials import sync_repositories
from devops.testing.fake_scm import FakeScm

# provider name (fake + models) -> social-auth backend name
BACKENDS = {"github": "github", "gitlab": "gitlab", "bitbucket": "bitbucket-oauth2"}
# How each provider names a repository in the fake (GitLab nests groups).
REPO_NAMES = {
    "github": ["octo/alpha", "octo/beta", "octo/gamma"],
    "gitlab": ["octo/alpha", "group/sub/beta", "octo/gamma"],
    "bitbucket": ["octo/alpha", "octo/beta", "octo/gamma"],
}


@pytest.fixture
def make_fake(
    make_repo: Callable[..., Any], start_fake: Callable[[str], FakeScm]
) -> Callable[..., tuple[FakeScm, SourceCodeProviderConfig]]:
    """``make_fake(provider)``: a started fake with user ``octo`` (3 admin repos, 1 read-only) and an
    enabled configuration row for it whose host is the fake's URL."""

    def make(provider: str) -> tuple[FakeScm, SourceCodeProviderConfig]:
        fake = start_fake(provider)
        fake.add_user("octo")
        fake.add_user("someone")
        repo = make_repo(name="app")
        for name in REPO_NAMES[provider]:
            fake.add_repo(name, repo.path, admins={"octo"})
        fake.add_repo("someone/readonly", repo.path, admins={"someone"}, readers={"octo"})
        client_id, client_secret = f"{provider}-client-{secrets.token_hex(4)}", secrets.token_hex(20)
        fake.oauth_clients[client_id] = client_secret
        config = SourceCodeProviderConfig.objects.create(
            provider=provider, host=fake.url, client_id=client_id, client_secret=client_secret, enabled=True
        )
        return fake, config

    return make


def begin(client: Client, backend: str) -> tuple[Any, dict[str, str]]:
    """POST to our login view (social-auth-app-django starts logins with a CSRF-protected POST)."""
    response = client.post(f"/auth/login/{backend}/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.get("Location", "")).query).items()}
    return response, query


def sign_in(client: Client, fake: FakeScm, backend: str, login: str = "octo") -> Any:
    response, query = begin(client, backend)
    assert response.status_code == 302, response.content
    code = secrets.token_hex(8)
    fake.oauth_codes[code] = login
    return client.get(f"/auth/complete/{backend}/", {"code": code, "state": query["state"]})


def raw_columns(table: str, pk: int, *columns: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return " ".join(str(value) for value in cursor.fetchone())


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_login_stores_an_encrypted_credential_and_syncs_administered_repositories(
    provider: str, make_fake: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    fake, config = make_fake(provider)
    backend = BACKENDS[provider]
    client = Client()

    response, query = begin(client, backend)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == fake.url
    assert location.path == {"github": "/login/oauth/authorize", "gitlab": "/oauth/authorize",
                             "bitbucket": "/site/oauth2/authorize"}[provider]
    assert query["client_id"] == config.client_id
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"http://testserver/auth/complete/{backend}/"
    assert len(query["state"]) >= 16
    scopes = set(query["scope"].replace(",", " ").split())
    assert scopes >= {"github": {"repo", "admin:repo_hook", "read:user", "user:email"}, "gitlab": {"api"},
                      "bitbucket": {"repository", "webhook", "account", "email"}}[provider]

    code = secrets.token_hex(8)
    fake.oauth_codes[code] = "octo"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = client.get(f"/auth/complete/{backend}/", {"code": code, "state": query["state"]})
    assert done.status_code == 302, done.content
    assert done["Location"] == "/"
    assert code not in fake.oauth_codes  # used once

    user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    assert user.username == "octo"
    assert user.email == "octo@example.com"

    credential = SourceCodeCredential.objects.get(user=user, provider=provider)
    assert credential.host == fake.url
    assert credential.login == "octo"
    assert credential.access_token == fake.users["octo"].token
    assert credential.refresh_token in fake.refresh_tokens
    assert credential.expires_at is not None
    assert abs(credential.expires_at - (datetime.now(UTC) + timedelta(seconds=7200))) < timedelta(minutes=1)

    # Encrypted at rest, and not copied into social-django's plain JSON column either.
    stored = raw_columns("devops_sourcecodecredential", credential.pk, "access_token", "refresh_token")
    assert credential.access_token not in stored and credential.refresh_token not in stored
    social = UserSocialAuth.objects.get(user=user, provider=backend)
    social_raw = raw_columns("social_auth_usersocialauth", social.pk, "extra_data")
    assert credential.access_token not in social_raw and credential.refresh_token not in social_raw

    # The sync is enqueued on commit (one callback); run it: only the repositories octo administers,
    # every page of them (the fake pages by 2).
    assert len(callbacks) == 1
    assert sync_repositories(credential.pk) == len(REPO_NAMES[provider])
    rows = SourceCodeRepository.objects.filter(credential=credential)
    assert sorted(row.url for row in rows) == sorted(f"{fake.url}/{name}" for name in REPO_NAMES[provider])
    assert all(row.permissions.get("admin") for row in rows)
    assert all(row.default_branch == "main" and row.clone_url.endswith(".git") for row in rows)

    for answer in (response, done):
        text = answer.content.decode() + answer.get("Location", "")
        assert config.client_secret not in text and credential.access_token not in text


@pytest.mark.django_db
def test_signing_in_again_replaces_the_token_of_the_same_credential(make_fake: Callable[..., Any]) -> None:
    fake, _ = make_fake("github")
    assert sign_in(Client(), fake, "github").status_code == 302
    first = SourceCodeCredential.objects.get(provider="github", login="octo")
    assert sign_in(Client(), fake, "github").status_code == 302
    again = SourceCodeCredential.objects.get(provider="github", login="octo")
    assert again.pk == first.pk
    assert again.access_token == fake.users["octo"].token != first.access_token


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_disabled_or_missing_configuration_is_a_clear_403(provider: str, make_fake: Callable[..., Any]) -> None:
    fake, config = make_fake(provider)
    config.enabled = False
    config.save()
    label = {"github": "GitHub", "gitlab": "GitLab", "bitbucket": "Bitbucket"}[provider]

    response, _ = begin(Client(), BACKENDS[provider])
    assert response.status_code == 403
    text = response.content.decode()
    assert f"Signing in with {label} is not enabled" in text
    assert config.client_secret not in text and config.client_id not in text
    assert not fake.requests  # nothing was asked of the provider

    config.delete()
    response, _ = begin(Client(), BACKENDS[provider])
    assert response.status_code == 403
    assert "is not enabled" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("provider,authorize", [
    ("github", "https://github.com/login/oauth/authorize"),
    ("gitlab", "https://gitlab.com/oauth/authorize"),
    ("bitbucket", "https://bitbucket.org/site/oauth2/authorize"),
])
def test_an_empty_host_means_the_public_service(provider: str, authorize: str) -> None:
    SourceCodeProviderConfig.objects.create(provider=provider, client_id="public-id", client_secret="s3cr3t-value",
                                            enabled=True)
    response, query = begin(Client(), BACKENDS[provider])
    assert response.status_code == 302
    assert response["Location"].startswith(authorize + "?")
    assert query["client_id"] == "public-id"
    assert "s3cr3t-value" not in response["Location"]


@pytest.mark.django_db
def test_provider_disabled_between_redirect_and_callback(make_fake: Callable[..., Any]) -> None:
    fake, config = make_fake("gitlab")
    client = Client()
    response, query = begin(client, "gitlab")
    assert response.status_code == 302
    SourceCodeProviderConfig.objects.filter(pk=config.pk).update(enabled=False)
    fake.oauth_codes["late"] = "octo"
    done = client.get("/auth/complete/gitlab/", {"code": "late", "state": query["state"]})
    assert done.status_code == 403
    assert "not enabled" in done.content.decode()
    assert not SourceCodeCredential.objects.exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_new_client_id_is_used_without_restart(make_fake: Callable[..., Any]) -> None:
    fake, config = make_fake("github")
    _, query = begin(Client(), "github")
    assert query["client_id"] == config.client_id

    config.client_id = "rotated-client"
    config.client_secret = "rotated-secret-value"
    config.save()
    fake.oauth_clients = {"rotated-client": "rotated-secret-value"}
    client = Client()
    _, query = begin(client, "github")
    assert query["client_id"] == "rotated-client"
    # ... and the new secret is what the code exchange sends (the fake accepts only the new pair).
    fake.oauth_codes["c2"] = "octo"
    done = client.get("/auth/complete/github/", {"code": "c2", "state": query["state"]})
    assert done.status_code == 302, done.content
    assert SourceCodeCredential.objects.filter(login="octo").exists()


@pytest.mark.django_db
def test_refused_code_and_forged_state_are_4xx_without_a_credential(make_fake: Callable[..., Any]) -> None:
    fake, config = make_fake("bitbucket")
    client = Client()
    _, query = begin(client, "bitbucket-oauth2")
    forged = client.get("/auth/complete/bitbucket-oauth2/", {"code": "x", "state": "not-the-state"})
    assert 400 <= forged.status_code < 500

    _, query = begin(client, "bitbucket-oauth2")
    refused = client.get("/auth/complete/bitbucket-oauth2/", {"code": "never-issued", "state": query["state"]})
    assert 400 <= refused.status_code < 500, refused.status_code
    assert config.client_secret not in refused.content.decode()
    assert not SourceCodeCredential.objects.exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sync_enqueued_on_commit_runs_on_the_real_worker(make_fake: Callable[..., Any], worker: Any) -> None:
    fake, _ = make_fake("github")
    assert sign_in(Client(), fake, "github").status_code == 302
    credential = SourceCodeCredential.objects.get(provider="github", login="octo")
    deadline = time.monotonic() + 30
    while SourceCodeRepository.objects.filter(credential=credential).count() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    urls = set(SourceCodeRepository.objects.filter(credential=credential).values_list("url", flat=True))
    assert urls == {f"{fake.url}/{name}" for name in REPO_NAMES["github"]}
