"""Source code providers (OAuth client secret write-only), users' credentials (tokens never shown) and
the repositories those credentials can administer (read-only: the sync writes them)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.core.validators import URLValidator
from django.http import HttpRequest

from devops.models import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository
from devops.models.scm import Provider

from .common import ReadOnlyAdminMixin, WriteOnlyFormMixin, is_set, secret_field


class ProviderConfigForm(WriteOnlyFormMixin):
    client_secret = secret_field("Client secret")
    clear_client_secret = forms.BooleanField(label="Remove the stored client secret", required=False)
    write_only = {"client_secret": "clear_client_secret"}

    class Meta:
        model = SourceCodeProviderConfig
        fields = ("provider", "host", "client_id", "client_secret", "clear_client_secret", "enabled")

    def clean_provider(self) -> str:
        provider = self.cleaned_data.get("provider") or ""
        if provider == Provider.GIT:
            raise forms.ValidationError("plain git has no sign-in to configure; pick a hosting provider")
        return provider

    def clean_host(self) -> str:
        """Empty for the public service, else the base URL of a self-hosted one (the API base derives
        from it); never credentials in it, as the host is shown in lists."""
        host = (self.cleaned_data.get("host") or "").strip().rstrip("/")
        if not host:
            return ""
        URLValidator(schemes=["http", "https"], message="expected the base URL, e.g. https://git.example.com")(host)
        parts = urlsplit(host)
        if parts.username or parts.password:
            self.data = self.data.copy()
            self.data[self.add_prefix("host")] = ""
            raise forms.ValidationError("the host URL must not contain a user or password")
        if parts.query or parts.fragment:
            raise forms.ValidationError("the host URL must not have a query or fragment")
        return host


@admin.register(SourceCodeProviderConfig)
class SourceCodeProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = ("provider", "host", "client_id", "enabled", "has_secret")
    list_filter = ("provider", "enabled")
    search_fields = ("host", "client_id")
    fields = ("provider", "host", "client_id", "client_secret", "clear_client_secret", "enabled")

    @admin.display(description="client secret", boolean=True)
    def has_secret(self, obj: SourceCodeProviderConfig) -> bool:
        return bool(obj.client_secret)


class RepositoryInline(admin.TabularInline):
    model = SourceCodeRepository
    extra = 0
    can_delete = False
    fields = ("url", "clone_url", "default_branch", "permissions")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SourceCodeCredential)
class SourceCodeCredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A credential is made by signing in with the provider; operators may only look and revoke."""

    allow_delete = True
    list_display = ("login", "user", "provider", "host", "access_token_state", "expires_at", "created_at")
    list_filter = ("provider",)
    search_fields = ("login", "user__username", "host")
    list_select_related = ("user",)
    # Explicit: a view-only page renders every listed field, and the token columns must never be one.
    fields = (
        "user", "provider", "host", "login", "access_token_state", "refresh_token_state", "expires_at", "created_at",
    )  # fmt: skip
    readonly_fields = fields
    exclude = ("access_token", "refresh_token")
    inlines = (RepositoryInline,)

    @admin.display(description="access token")
    def access_token_state(self, obj: SourceCodeCredential) -> str:
        return is_set(obj.access_token)

    @admin.display(description="refresh token")
    def refresh_token_state(self, obj: SourceCodeCredential) -> str:
        return is_set(obj.refresh_token)


@admin.register(SourceCodeRepository)
class SourceCodeRepositoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Deletable so a credential (which cascades here) can be; the next sync lists the repository again.
    allow_delete = True
    list_display = ("url", "credential", "default_branch", "is_admin")
    list_filter = ("credential__provider",)
    search_fields = ("url", "clone_url", "credential__login")
    list_select_related = ("credential",)
    fields = ("credential", "url", "clone_url", "default_branch", "permissions")
    readonly_fields = fields

    @admin.display(description="admin", boolean=True)
    def is_admin(self, obj: SourceCodeRepository) -> bool:
        return bool((obj.permissions or {}).get("admin"))
