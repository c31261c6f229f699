"""Widgets and mixins the operator admin shares.

The one rule they exist for: a secret (a token, a password, a kubeconfig, a secret's values) is
write-only. A widget here never renders a value, not even the one just posted with a form that had an
error, and a form left empty keeps what is stored, so an operator can edit the other fields of a row
without knowing (or retyping) its secret.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from rest_framework import serializers

KEEP_HELP = "Stored encrypted and never shown. Leave empty to keep the current value."


class WriteOnlyPasswordInput(forms.PasswordInput):
    """A password input that never renders a value (Django's ``render_value=False``, fixed)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that is always empty when rendered: for multi-line secrets (kubeconfigs, values)."""

    def format_value(self, value: Any) -> None:
        return None

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, {"autocomplete": "off", "spellcheck": "false", **(attrs or {})})


class SecretField(forms.CharField):
    """Changed only when something was typed: the page never holds the stored value, so an empty field
    is "keep", not "changed to empty" (which would also put a false line in the object's history)."""

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data)


def secret_field(label: str, *, textarea: bool = False, help_text: str = KEEP_HELP) -> SecretField:
    """A form field for a write-only secret; empty means "keep" (see ``WriteOnlyFormMixin``)."""
    widget = WriteOnlyTextarea(attrs={"rows": 8}) if textarea else WriteOnlyPasswordInput()
    return SecretField(label=label, required=False, widget=widget, help_text=help_text)


class WriteOnlyFormMixin(forms.ModelForm):
    """Keep a stored secret when its field is left empty, unless its "clear" box is ticked.

    ``write_only`` maps a model field to the name of an optional clear checkbox (or None). ``required_on_add``
    lists the secrets a new row must be given.
    """

    write_only: dict[str, str | None] = {}
    required_on_add: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        adding = self.instance.pk is None
        for name, clear in self.write_only.items():
            entered = cleaned.get(name) or ""
            if entered:
                continue
            if clear and cleaned.get(clear):
                cleaned[name] = ""
            elif adding:
                cleaned[name] = ""
                if name in self.required_on_add and name not in self.errors:
                    self.add_error(name, f"{self.fields[name].label or name} is required.")
            else:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


def api_rule(check: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one of the API's field checks and turn its refusal into a form error: the admin and the API
    accept the same values."""
    try:
        return check(*args, **kwargs)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
        raise forms.ValidationError([str(message) for message in detail]) from None


def is_set(value: object) -> str:
    """What the admin says about a secret: whether there is one, never what it is."""
    return "set" if value else "not set"


class ReadOnlyAdminMixin:
    """Rows the service writes (executions, deliveries, synced repositories): operators look, never edit."""

    allow_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete and super().has_delete_permission(request, obj)  # type: ignore[misc]


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline that shows child rows (stages, steps) without any way to add, edit or delete them."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
