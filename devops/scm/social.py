"""Sign in with GitHub, GitLab or Bitbucket (social-auth), and keep the token the login brings.

The backends subclass social-core's and change two things:

* **Configuration from the database, per request.** The client id and secret come from the first
  *enabled* ``SourceCodeProviderConfig`` row of the provider, read when the login starts and again
  when it completes, so an operator enables a provider (or rotates its secret) in the admin without a
  restart. That row's ``host`` decides every URL: empty means the public service, otherwise a
  self-hosted instance (GitHub Enterprise Server, a GitLab instance). With no enabled row the login
  answers 403 with a message that says so, through social-django's exception middleware.
* **Tokens are not left in social-django's table.** ``UserSocialAuth.extra_data`` is a plain JSON
  column; the access and refresh tokens go only to ``SourceCodeCredential`` (encrypted) by the
  ``store_credential`` pipeline step, which then enqueues the repository sync on commit.

Tokens travel in the ``Authorization`` header, never in a query string, where proxies log them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from social_core.backends.bitbucket import BitbucketOAuth2
from social_core.backends.github import GithubOAuth2
from social_core.backends.gitlab import GitLabOAuth2
from social_core.exceptions import AuthPolicyError

from devops.models.scm import SourceCodeCredential, SourceCodeProviderConfig
from devops.scm.tokens import expiry

# Never copied into UserSocialAuth.extra_data: they live encrypted in SourceCodeCredential.
TOKEN_KEYS = ("access_token", "refresh_token", "id_token")


class ProviderNotEnabled(AuthPolicyError):
    """No enabled configuration for the provider: a 403 whose message tells the user why."""

    def __init__(self, backend: Any, label: str) -> None:
        super().__init__(backend, code="authentication_disallowed", stage="begin", recovery="contact_administrator")
        # social-core's messages are generic per code; this one names the provider and the fix.
        self.args = (
            f"Signing in with {label} is not enabled. An administrator has to add and enable a {label} "
            "source code provider configuration first.",
        )


class ConfiguredBackend:
    """Mixin: client credentials and base URL from the provider's enabled configuration row."""

    scm_provider: str = ""  # SourceCodeProviderConfig.provider / SourceCodeCredential.provider
    scm_label: str = ""
    _scm_config: SourceCodeProviderConfig | None = None

    @property
    def config(self) -> SourceCodeProviderConfig:
        """The enabled configuration, read once per backend instance (one instance per request)."""
        if self._scm_config is None:
            row = (
                SourceCodeProviderConfig.objects.filter(provider=self.scm_provider, enabled=True)
                .order_by("pk")
                .first()
            )
            if row is None or not row.client_id:
                raise ProviderNotEnabled(self, self.scm_label)
            self._scm_config = row
        return self._scm_config

    @property
    def host(self) -> str:
        return self.config.host.rstrip("/")

    def get_key_and_secret(self) -> tuple[str, str]:
        return self.config.client_id, self.config.client_secret

    def start(self) -> Any:
        self.config  # noqa: B018 - fail with the clear message before anything else happens
        return super().start()  # type: ignore[misc]

    def extra_data(
        self, user: Any, uid: str, response: dict[str, Any], details: dict[str, Any], pipeline_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        data = super().extra_data(user, uid, response, details, pipeline_kwargs)  # type: ignore[misc]
        return {key: value for key, value in data.items() if key not in TOKEN_KEYS}

    def scm_login(self, response: dict[str, Any]) -> str:
        """The user's name at the provider, as the credential records it."""
        raise NotImplementedError


class GithubBackend(ConfiguredBackend, GithubOAuth2):
    """github.com, or GitHub Enterprise Server at ``host`` (API under ``/api/v3``)."""

    name = "github"
    scm_provider = "github"
    scm_label = "GitHub"
    # repo: list private repositories and post commit statuses; admin:repo_hook: manage webhooks.
    DEFAULT_SCOPE = ["repo", "admin:repo_hook", "read:user", "user:email"]

    def api_url(self) -> str:
        return f"{self.host}/api/v3/" if self.host else "https://api.github.com/"

    def authorization_url(self) -> str:
        return f"{self.host}/login/oauth/authorize" if self.host else self.AUTHORIZATION_URL

    def access_token_url(self) -> str:
        return f"{self.host}/login/oauth/access_token" if self.host else self.ACCESS_TOKEN_URL

    def scm_login(self, response: dict[str, Any]) -> str:
        return str(response.get("login") or "")


class GitLabBackend(ConfiguredBackend, GitLabOAuth2):
    """gitlab.com, or a self-managed GitLab at ``host``."""

    name = "gitlab"
    scm_provider = "gitlab"
    scm_label = "GitLab"
    # api: list projects, add project hooks, post commit statuses (it includes read_user).
    DEFAULT_SCOPE = ["api"]

    def api_url(self, path: str) -> str:
        return f"{self.host or self.API_URL}{path}"

    def user_data(self, access_token: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self.get_json(self.api_url("/api/v4/user"), headers={"Authorization": f"Bearer {access_token}"})

    def scm_login(self, response: dict[str, Any]) -> str:
        return str(response.get("username") or "")


class BitbucketBackend(ConfiguredBackend, BitbucketOAuth2):
    """Bitbucket Cloud; ``host`` only moves it (tests point it at the fake server)."""

    name = "bitbucket-oauth2"
    scm_provider = "bitbucket"
    scm_label = "Bitbucket"
    # repository: list repositories and post commit statuses (Bitbucket asks no more for statuses);
    # webhook: manage hooks; account + email: who signed in.
    DEFAULT_SCOPE = ["repository", "webhook", "account", "email"]

    def authorization_url(self) -> str:
        return f"{self.host}/site/oauth2/authorize" if self.host else self.AUTHORIZATION_URL

    def access_token_url(self) -> str:
        return f"{self.host}/site/oauth2/access_token" if self.host else self.ACCESS_TOKEN_URL

    def api_base(self) -> str:
        return f"{self.host}/2.0" if self.host else "https://api.bitbucket.org/2.0"

    def _get_user(self, access_token: str | None = None) -> Any:
        return self.get_json(f"{self.api_base()}/user", headers={"Authorization": f"Bearer {access_token}"})

    def _get_emails(self, access_token: str | None = None) -> Any:
        return self.get_json(f"{self.api_base()}/user/emails", headers={"Authorization": f"Bearer {access_token}"})

    def scm_login(self, response: dict[str, Any]) -> str:
        return str(response.get("username") or response.get("nickname") or "")


def store_credential(
    backend: Any, user: Any = None, response: dict[str, Any] | None = None, *args: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """Pipeline step (last): keep the login's token as the user's credential, then sync repositories.

    One credential per (user, provider, host): signing in again replaces the token, which is how a
    user repairs a revoked one. A login without a refresh token (GitHub OAuth apps) clears the old
    refresh token, since it belonged to the replaced grant.
    """
    if not isinstance(backend, ConfiguredBackend) or user is None or not response:
        return None
    access_token = response.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        return None
    refresh = response.get("refresh_token")
    credential, _ = SourceCodeCredential.objects.update_or_create(
        user=user,
        provider=backend.scm_provider,
        host=backend.host,
        defaults={
            "login": backend.scm_login(response)[:200],
            "access_token": access_token,
            "refresh_token": refresh if isinstance(refresh, str) else "",
            "expires_at": expiry(response),
        },
    )
    from devops import tasks

    credential_id = credential.pk
    transaction.on_commit(lambda: tasks.sync_repositories.delay(credential_id))
    return None
