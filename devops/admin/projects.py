"""Projects: members, pipeline settings (every key of the registry, defaults shown), secrets and
registry credentials (both write-only)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from devops.api.projects_serializers import (
    DNS_PATTERN,
    DNS_RULE,
    MAX_NAMESPACES,
    MAX_SECRET_KEYS,
    MAX_SECRET_TOTAL,
    REGISTRY_PATTERN,
    REGISTRY_RULE,
    RESERVED_NAMESPACES,
)
from devops.models import PipelineSetting, Project, ProjectMember, ProjectSecret, RegistryCredential
from devops.project_settings import SETTINGS, validate_settings
from devops.selectors import project_settings
from devops.services import LAST_OWNER, set_project_settings

from .common import KEEP_HELP, WriteOnlyFormMixin, WriteOnlyTextarea, secret_field

# The same rule as a Kubernetes Secret data key: the kubernetes executor mounts these through envFrom.
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_DNS_LABEL = re.compile(DNS_PATTERN)
_REGISTRY = re.compile(REGISTRY_PATTERN)


def check_dns_label(value: str, max_length: int = 63) -> str:
    """The API's rule for names that become Kubernetes names (projects, namespaces, secrets)."""
    if len(value) > max_length or not _DNS_LABEL.fullmatch(value):
        raise forms.ValidationError(f"{value[:80]!r} is not a DNS-1123 label ({DNS_RULE}; at most {max_length})")
    return value


def setting_field(key: str) -> str:
    """The form field of a setting key (``executor-quota`` -> ``setting_executor_quota``)."""
    return "setting_" + key.replace("-", "_")


# --- pipeline settings, on the project form -------------------------------------------------------------
class ProjectFormBase(forms.ModelForm):
    """The project's own fields plus one field per setting key; an empty field means the default."""

    class Meta:
        model = Project
        fields = ("name", "display_name", "cluster", "namespaces")

    def clean_name(self) -> str:
        return check_dns_label(self.cleaned_data.get("name") or "", 50)

    def clean_namespaces(self) -> list[str]:
        """Where the project's pipelines may deploy: real namespaces, none of the system's or the
        service's own, and none that another project already has."""
        value = self.cleaned_data.get("namespaces")
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise forms.ValidationError('expected a JSON list of namespace names, e.g. ["team-a", "team-a-staging"]')
        if len(value) > MAX_NAMESPACES:
            raise forms.ValidationError(f"at most {MAX_NAMESPACES} namespaces")
        for namespace in value:
            check_dns_label(namespace)
            if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
                raise forms.ValidationError(f"{namespace!r} is a system namespace")
            if namespace.endswith("-pipeline"):
                raise forms.ValidationError(f"{namespace!r}: a name ending in -pipeline is the service's own")
        if len(set(value)) != len(value):
            raise forms.ValidationError("a namespace is listed twice")
        others = Project.objects.exclude(pk=self.instance.pk)
        for namespace in value:
            if others.filter(namespaces__contains=[namespace]).exists():
                raise forms.ValidationError(f"{namespace!r} already belongs to another project")
        return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored: dict[str, str] = {}
        if self.instance.pk:
            stored = dict(PipelineSetting.objects.filter(project=self.instance).values_list("key", "value"))
        for key, definition in SETTINGS.items():
            name = setting_field(key)
            if name not in self.fields:
                continue
            default = definition.default()
            field = self.fields[name]
            field.widget.attrs["placeholder"] = default or "(empty)"
            field.help_text = f"{definition.help} Default: {default or '(empty)'}. Leave empty for the default."
            self.initial.setdefault(name, stored.get(key, ""))

    def clean(self) -> dict[str, Any]:
        """The registry's checks (``validate_settings``: each value, then each request against its
        limit), as the API applies them; every message starts with the key it is about."""
        cleaned = super().clean()
        for key in SETTINGS:
            name = setting_field(key)
            if name in self.fields:
                cleaned[name] = (cleaned.get(name) or "").strip()
        changes = {key: value or SETTINGS[key].default() for key, value in self.changed_settings().items()}
        current = (
            project_settings(self.instance)
            if self.instance.pk
            else {key: definition.default() for key, definition in SETTINGS.items()}
        )
        for key, messages in validate_settings(changes, current).items():
            for message in messages:
                self.add_error(setting_field(key), message if message.startswith(key) else f"{key}: {message}")
        return cleaned

    def changed_settings(self) -> dict[str, str]:
        """key -> new value ("" = back to the default) for the settings this form changed."""
        return {
            key: (self.cleaned_data.get(setting_field(key)) or "").strip()
            for key in SETTINGS
            if setting_field(key) in self.changed_data
        }


def _setting_form_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for key in SETTINGS:
        widget = (
            forms.Textarea(attrs={"rows": 3, "cols": 60}) if key == "mirrors" else forms.TextInput(attrs={"size": 50})
        )
        fields[setting_field(key)] = forms.CharField(label=key, required=False, max_length=1000, widget=widget)
    return fields


ProjectForm = type("ProjectForm", (ProjectFormBase,), _setting_form_fields())


# --- members ---------------------------------------------------------------------------------------------
class ProjectMemberFormSet(forms.BaseInlineFormSet):
    """A project that has an owner keeps one (the API's rule too): otherwise only staff could manage it."""

    def clean(self) -> None:
        super().clean()
        if self.instance.pk is None or not self.instance.members.filter(role=ProjectMember.Role.OWNER).exists():
            return
        owners = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("role") == ProjectMember.Role.OWNER
        ]
        if not owners:
            raise forms.ValidationError(LAST_OWNER)


class ProjectMemberInline(admin.TabularInline):
    model = ProjectMember
    formset = ProjectMemberFormSet
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role")


# --- secrets: key names shown, values write-only ------------------------------------------------------------
def parse_secret_lines(text: str) -> dict[str, str]:
    """``KEY=value`` lines (blank lines and ``#`` comments ignored). Errors name the line and never
    quote it: the rest of the line is a secret value."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep:
            raise forms.ValidationError(f"line {number}: expected KEY=value")
        if not _SECRET_KEY.match(key):
            raise forms.ValidationError(
                f"line {number}: a key may use letters, digits, '-', '_' and '.' only (1-253 characters)"
            )
        values[key] = value
    return values


class ProjectSecretForm(forms.ModelForm):
    values = forms.CharField(
        label="Set values",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "cols": 50}),
        help_text="KEY=value lines, added to or replacing those keys. Values are stored encrypted and never "
        "shown. Leave empty to keep the current values.",
    )
    remove_keys = forms.MultipleChoiceField(
        label="Remove keys", required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )

    class Meta:
        model = ProjectSecret
        fields = ("name",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = sorted((self.instance.data or {}).keys()) if self.instance.pk else []
        self.fields["remove_keys"].choices = [(k, k) for k in keys]

    def clean_name(self) -> str:
        return check_dns_label(self.cleaned_data.get("name") or "", 200)

    def clean_values(self) -> dict[str, str]:
        return parse_secret_lines(self.cleaned_data.get("values") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "values" in self.errors:
            return cleaned
        data = dict(self.instance.data or {}) if self.instance.pk else {}
        for key in cleaned.get("remove_keys") or ():
            data.pop(key, None)
        data.update(cleaned.get("values") or {})
        if not data and not cleaned.get("DELETE"):
            self.add_error("values", "a secret needs at least one key: give KEY=value lines, or delete the secret")
        elif len(data) > MAX_SECRET_KEYS:
            self.add_error("values", f"a secret holds at most {MAX_SECRET_KEYS} keys")
        elif sum(len(k) + len(str(v).encode()) for k, v in data.items()) > MAX_SECRET_TOTAL:
            self.add_error("values", "a secret holds at most 1 MiB in all")
        self._secret_data = data
        return cleaned

    def save(self, commit: bool = True) -> ProjectSecret:
        self.instance.data = self._secret_data
        return super().save(commit)


class ProjectSecretInline(admin.StackedInline):
    model = ProjectSecret
    form = ProjectSecretForm
    extra = 0
    fields = ("name", "key_names", "values", "remove_keys")
    readonly_fields = ("key_names",)

    @admin.display(description="Keys")
    def key_names(self, obj: ProjectSecret) -> str:
        keys = sorted((obj.data or {}).keys()) if obj and obj.pk else []
        return ", ".join(keys) or "(none)"


# --- registry credentials: password write-only ------------------------------------------------------------
class RegistryCredentialForm(WriteOnlyFormMixin):
    password = secret_field("Password", help_text=KEEP_HELP + " Required for a new registry.")
    write_only = {"password": None}
    required_on_add = ("password",)

    class Meta:
        model = RegistryCredential
        fields = ("registry", "username", "password")

    def clean_registry(self) -> str:
        registry = (self.cleaned_data.get("registry") or "").strip()
        if not _REGISTRY.fullmatch(registry):
            raise forms.ValidationError(f"not {REGISTRY_RULE}")
        return registry


class RegistryCredentialInline(admin.TabularInline):
    model = RegistryCredential
    form = RegistryCredentialForm
    extra = 0
    fields = ("registry", "username", "password")


# --- the project ------------------------------------------------------------------------------------------
@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ("name", "display_name", "cluster", "member_count", "pipeline_count", "created_at")
    list_filter = ("cluster",)
    search_fields = ("name", "display_name")
    readonly_fields = ("created_at",)
    inlines = (ProjectMemberInline, ProjectSecretInline, RegistryCredentialInline)
    fieldsets = (
        (None, {"fields": ("name", "display_name", "cluster", "namespaces", "created_at")}),
        (
            "Pipeline settings",
            {
                "fields": tuple(setting_field(key) for key in SETTINGS),
                "description": "Every key with its default greyed out; an empty field uses the default.",
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return (
            super()
            .get_queryset(request)
            .select_related("cluster")
            .annotate(
                _members=Count("members", distinct=True),
                _pipelines=Count("pipelines", distinct=True),
            )
        )

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Project) -> int:
        return obj._members  # type: ignore[attr-defined]

    @admin.display(description="pipelines", ordering="_pipelines")
    def pipeline_count(self, obj: Project) -> int:
        return obj._pipelines  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> tuple[str, ...]:
        # The name is fixed once made: it names the project's namespace, log paths and workspaces.
        return ("name", "created_at") if obj is not None else ("created_at",)

    def save_model(self, request: HttpRequest, obj: Project, form: ProjectFormBase, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Empty means the default: the row goes, so a later change of the default reaches this project.
        set_project_settings(obj, {key: value or None for key, value in form.changed_settings().items()})
