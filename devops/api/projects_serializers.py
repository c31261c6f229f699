"""How projects, members, settings, secrets and registry credentials look in the API.

Input shape and format live here; uniqueness and the rules that span rows (last owner, request <=
limit) live in ``devops.services``. Secret values and registry passwords are write-only fields: no
serializer here ever renders them.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devops.access import is_staff
from devops.models import Project, ProjectMember, ProjectSecret, RegistryCredential
from devops.project_settings import SETTINGS, validate_settings

# DNS-1123 label: the project's name becomes its pipeline namespace ``<name>-pipeline``.
DNS_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_LABEL = re.compile(DNS_PATTERN)
DNS_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"
# The Kubernetes Secret data key rule: the kubernetes executor mounts these keys as they are.
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_HOST_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
REGISTRY_PATTERN = rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*(:[0-9]{{1,5}})?$"
REGISTRY_RULE = "host[:port] (no scheme, no path), e.g. registry.example.com:5000"
MAX_NAMESPACES = 100
MAX_SECRET_KEYS = 200
MAX_SECRET_VALUE = 64 * 1024
MAX_SECRET_TOTAL = 1024 * 1024  # a Kubernetes Secret holds at most 1 MiB
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


# Validators as well as checks: drf-spectacular turns them into the schema's ``pattern``.
dns_label_validator = RegexValidator(DNS_PATTERN, f"not a DNS-1123 label ({DNS_RULE})")
registry_validator = RegexValidator(REGISTRY_PATTERN, f"not {REGISTRY_RULE}")


def validate_dns_label(value: str, max_length: int = 63) -> str:
    if len(value) > max_length or not _DNS_LABEL.fullmatch(value):
        raise serializers.ValidationError(f"{value[:80]!r} is not a DNS-1123 label ({DNS_RULE}; at most {max_length})")
    return value


class ProjectSerializer(serializers.ModelSerializer):
    """A project. Anyone signed in may create one and becomes its owner; ``namespaces`` (where its
    pipelines may deploy) grant rights in the cluster, so only staff set them."""

    name = serializers.CharField(
        max_length=50,
        help_text="Unique, a DNS-1123 label (it names the pipeline namespace <name>-pipeline); fixed once created.",
    )
    namespaces = serializers.ListField(
        child=serializers.CharField(max_length=63, validators=[dns_label_validator]),
        max_length=MAX_NAMESPACES,
        required=False,
        help_text="Kubernetes namespaces the project's pipelines may deploy to (DNS-1123 labels); staff only.",
    )
    my_role = serializers.SerializerMethodField(help_text="Your role here: owner, member, viewer, or staff.")

    class Meta:
        model = Project
        fields = ["id", "name", "display_name", "created_at", "my_role", "namespaces"]
        read_only_fields = ["id", "created_at", "my_role"]

    @extend_schema_field(serializers.ChoiceField(choices=["owner", "member", "viewer", "staff"], allow_null=True))
    def get_my_role(self, obj: Project) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if is_staff(user):
            return "staff"
        if hasattr(obj, "my_role_value"):
            return obj.my_role_value
        if user is None or not user.is_authenticated:
            return None
        return ProjectMember.objects.filter(project=obj, user_id=user.pk).values_list("role", flat=True).first()

    def validate_name(self, value: str) -> str:
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError(
                "a project's name cannot change: it names its namespace and log paths (display_name can)"
            )
        if self.instance is None:
            validate_dns_label(value, 50)
        return value

    def validate_namespaces(self, value: list[str]) -> list[str]:
        errors: dict[int, list[str]] = {}
        for index, namespace in enumerate(value):
            try:
                validate_dns_label(namespace)
            except serializers.ValidationError as exc:
                errors[index] = [str(e) for e in exc.detail]
                continue
            if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
                errors[index] = [f"{namespace!r} is a system namespace"]
            elif namespace.endswith("-pipeline"):
                errors[index] = [f"{namespace!r}: names ending in -pipeline are the service's own namespaces"]
        if errors:
            raise serializers.ValidationError(errors)
        if len(set(value)) != len(value):
            raise serializers.ValidationError("a namespace is listed twice")
        others = Project.objects.exclude(pk=getattr(self.instance, "pk", None))
        for namespace in value:
            if others.filter(namespaces__contains=[namespace]).exists():
                raise serializers.ValidationError(f"{namespace!r} already belongs to another project")
        return value


class ProjectMemberSerializer(serializers.ModelSerializer):
    """A member of a project: the user's id and name and their role."""

    user = serializers.IntegerField(source="user_id", read_only=True, help_text="The user's id.")
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ProjectMember
        fields = ["user", "username", "role"]
        read_only_fields = ["user", "username"]


class ProjectMemberAddSerializer(serializers.Serializer):
    """Add a user by ``username`` or by ``user`` id (one of them)."""

    user = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="The user's id.")
    username = serializers.CharField(required=False, max_length=150)
    role = serializers.ChoiceField(choices=ProjectMember.Role.choices, default=ProjectMember.Role.MEMBER)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        users = get_user_model().objects.filter(is_active=True)
        if "user" in attrs:
            user = users.filter(pk=attrs["user"]).first()
            if user is None:
                raise serializers.ValidationError({"user": [f"no active user with id {attrs['user']}"]})
            if "username" in attrs and attrs["username"] != user.get_username():
                raise serializers.ValidationError({"username": ["does not match the user id; send one of them"]})
        elif "username" in attrs:
            user = users.filter(username=attrs["username"]).first()
            if user is None:
                raise serializers.ValidationError({"username": [f"no active user named {attrs['username']!r}"]})
        else:
            raise serializers.ValidationError({"username": ["send the username or the user id of the new member"]})
        return {"user": user, "role": attrs["role"]}


class ProjectMemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ProjectMember.Role.choices)


class ProjectSettingSerializer(serializers.Serializer):
    """One project setting as it applies now."""

    key = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    default = serializers.CharField(allow_blank=True)
    is_default = serializers.BooleanField(help_text="True when the project has no value of its own.")
    help = serializers.CharField(allow_blank=True)


class _SettingsPatchBase(serializers.Serializer):
    """``{key: value, ...}`` for any of the known keys; every other key is an error, not ignored. All
    bad keys are named at once: unknown ones, wrong types and values their own check refuses."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return super().to_internal_value(data)  # DRF's "expected a dictionary" error
        known = ", ".join(SETTINGS)
        errors: dict[str, Any] = {str(k)[:100]: [f"unknown setting; known: {known}"] for k in data if k not in SETTINGS}
        try:
            values = super().to_internal_value({k: v for k, v in data.items() if k in SETTINGS})
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
            values = {}
        for key, value in values.items():
            if value is not None:
                errors.update(validate_settings({key: value}))
        if errors:
            raise serializers.ValidationError(errors)
        return values


# One optional field per registry key, so the schema lists them (keys with '-' cannot be attributes).
ProjectSettingsPatchSerializer = type(
    "ProjectSettingsPatchSerializer",
    (_SettingsPatchBase,),
    {
        "__doc__": _SettingsPatchBase.__doc__,
        "__module__": __name__,
        **{
            key: serializers.CharField(
                required=False,
                allow_null=True,
                allow_blank=True,
                max_length=1000,
                help_text=f"{definition.help} Null resets it to the default.",
            )
            for key, definition in SETTINGS.items()
        },  # fmt: skip
    },
)


class SecretDataField(serializers.DictField):
    """``{KEY: value}``: write-only, never rendered; keys follow the Kubernetes Secret key rule."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=MAX_SECRET_VALUE, allow_blank=True,
                                                         trim_whitespace=False, allow_null=True))  # fmt: skip
        kwargs.setdefault("write_only", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str | None]:
        value = super().to_internal_value(data)
        errors = {}
        for key in value:
            if len(key) > 253 or not _SECRET_KEY.match(key):
                errors[key[:100]] = ["a key is letters, digits, '-', '_' or '.' (at most 253)"]
        if errors:
            raise serializers.ValidationError(errors)
        if len(value) > MAX_SECRET_KEYS:
            raise serializers.ValidationError(f"at most {MAX_SECRET_KEYS} keys")
        if sum(len(k) + len((v or "").encode()) for k, v in value.items()) > MAX_SECRET_TOTAL:
            raise serializers.ValidationError("a secret holds at most 1 MiB in all")
        return value


class ProjectSecretSerializer(serializers.ModelSerializer):
    """A project secret that steps read through ``envFrom``. ``data`` is write-only: responses list the
    ``keys`` only. On PATCH, ``data`` is merged into the stored values (a null value removes its key);
    on PUT it replaces them."""

    name = serializers.CharField(
        max_length=200, validators=[dns_label_validator], help_text="Unique in the project; a DNS-1123 label."
    )
    data = SecretDataField(help_text="KEY: value pairs (write-only; on PATCH, null removes a key).")
    keys = serializers.SerializerMethodField(help_text="The secret's keys; values are never shown.")

    class Meta:
        model = ProjectSecret
        fields = ["id", "name", "data", "keys"]
        read_only_fields = ["id", "keys"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_keys(self, obj: ProjectSecret) -> list[str]:
        return sorted(str(k) for k in (obj.data or {}))

    def validate_name(self, value: str) -> str:
        return validate_dns_label(value, 200)

    def validate_data(self, value: dict[str, str | None]) -> dict[str, str | None]:
        partial = self.instance is not None and self.partial
        if not partial and any(v is None for v in value.values()):
            raise serializers.ValidationError("null removes a key only on PATCH; send a string value")
        if not partial and not value:
            raise serializers.ValidationError("a secret needs at least one key")
        return value


class ProjectRegistrySerializer(serializers.ModelSerializer):
    """Credentials for an image registry; the password is write-only (kept when not sent on update)."""

    registry = serializers.CharField(max_length=253, validators=[registry_validator], help_text=REGISTRY_RULE)
    username = serializers.CharField(max_length=200)
    password = serializers.CharField(
        write_only=True,
        required=False,
        max_length=4096,
        trim_whitespace=False,
        help_text="Write-only; leave it out on update to keep the stored one.",
    )

    class Meta:
        model = RegistryCredential
        fields = ["id", "registry", "username", "password"]
        read_only_fields = ["id"]

    def validate_registry(self, value: str) -> str:
        port = value.rpartition(":")[2] if ":" in value else None
        if port is not None and not 0 < int(port) < 65536:
            raise serializers.ValidationError(f"port {port} is out of range; {REGISTRY_RULE}")
        return value.lower()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["required when adding a registry credential"]})
        return attrs
