"""How pipelines look in the API and what a write may contain.

Validation that needs only the request (types, lengths, names, the caller's own credential, the URL's
shape) is here; writes and their side effects are ``devops.pipeline_services``. The webhook secret is
not a field at all: it is only ever shown by ``rotate-secret``, once.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devops.models import ImageTrigger, Pipeline, PipelineSchedule, SourceCodeCredential
from devops.models.scm import Provider
from devops.pipeline_config.yaml_nodes import MAX_BYTES
from devops.schedules import parse_cron
from devops.scm.base import ProviderError
from devops.scm.git import GitError, check_ref_name, normalise_url
from devops.scm.registration import webhook_url
from devops.scm.registry import provider_class

MAX_ID = 2**63 - 1
MAX_LIST = 50
NO_SUCH_CREDENTIAL = (
    "no such credential: give the id of one of your own source code credentials (GET /api/v1/credentials/)"
)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)\S+$")
NETWORK_SCHEMES = frozenset({"http", "https", "ssh", "git"})
_IMAGE_GLOB = re.compile(r"^[A-Za-z0-9._/*?:\[\]-]+$")


def ref_name(value: str, what: str) -> str:
    """A branch or tag name git accepts (no option-like or traversal names reach git)."""
    try:
        return check_ref_name(value, what)
    except GitError as exc:
        raise serializers.ValidationError(str(exc)) from None


def check_repository_url(value: str, *, local_allowed: bool) -> str:
    """An http(s)/ssh/git URL or ``user@host:path``; local paths and file:// only for staff.

    Why staff only: a local path reads any repository on the service's host, including other
    projects' mirrors; operators own that host anyway, project owners do not. A password or token in
    the URL is refused because the URL is shown to every viewer of the project: tokens belong in a
    credential. Git's ``transport::address`` form (``ext::`` runs commands) is never accepted.
    """
    url = value.strip()
    if not url:
        raise serializers.ValidationError("a repository URL is required")
    if _CONTROL.search(url):
        raise serializers.ValidationError("the repository URL must not contain spaces or control characters")
    if url.startswith("-") or _TRANSPORT.match(url):
        raise serializers.ValidationError(f"{url!r} is not a repository URL")
    scheme = _URL.match(url)
    if scheme:
        name = scheme.group(1).lower()
        if name == "file":
            if not local_allowed:
                raise serializers.ValidationError("file:// repositories can only be set by staff; use a network URL")
            return url
        if name not in NETWORK_SCHEMES:
            raise serializers.ValidationError(f"unsupported URL scheme {name!r}: use https, http, ssh or git")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise serializers.ValidationError(f"the repository URL is malformed: {exc}") from None
        if not host:
            raise serializers.ValidationError("the repository URL has no host")
        if parts.password is not None:
            raise serializers.ValidationError(
                "the repository URL contains a password or token: remove it and give a credential instead"
            )
        return url
    if _SCP.match(url):
        return url
    if not url.startswith("/"):
        raise serializers.ValidationError(
            "expected a clone URL (https://host/owner/name.git, ssh://..., git@host:owner/name.git)"
        )
    if not local_allowed:
        raise serializers.ValidationError("local repository paths can only be set by staff; use a network URL")
    return normalise_url(url)


class _WholeItem:
    """A list item is written whole even inside a PATCH (the list replaces the old one), but DRF skips
    "required" for every nested field of a partial update: check the required keys here."""

    required_keys: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {key: ["This field is required."] for key in self.required_keys if key not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ScheduleSerializer(_WholeItem, serializers.ModelSerializer):
    required_keys = ("cron",)

    cron = serializers.CharField(
        max_length=100, help_text="Five fields: minute hour day-of-month month day-of-week, e.g. `0 3 * * 1-5`."
    )
    branch = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="Empty: the default branch."
    )
    timezone = serializers.CharField(max_length=63, required=False, default="UTC", help_text="An IANA zone name.")

    class Meta:
        model = PipelineSchedule
        fields = ["id", "cron", "branch", "timezone", "enabled"]
        read_only_fields = ["id"]

    def validate_cron(self, value: str) -> str:
        try:
            parse_cron(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_branch(self, value: str) -> str:
        return ref_name(value, "branch") if value else ""


class ImageTriggerSerializer(_WholeItem, serializers.ModelSerializer):
    required_keys = ("image",)

    image = serializers.CharField(
        max_length=300, help_text="Glob on the image repository, e.g. `library/app` or `*/app`; a host is optional."
    )
    tag = serializers.CharField(max_length=128, required=False, default="*", help_text="Glob on the tag, e.g. `v*`.")
    branch = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="Empty: the default branch."
    )

    class Meta:
        model = ImageTrigger
        fields = ["id", "image", "tag", "branch", "enabled"]
        read_only_fields = ["id"]

    def validate_image(self, value: str) -> str:
        if not _IMAGE_GLOB.match(value):
            raise serializers.ValidationError(
                "an image glob has letters, digits and . _ / - : * ? [ ] only (e.g. registry.example.com/team/*)"
            )
        return value

    def validate_tag(self, value: str) -> str:
        if not _IMAGE_GLOB.match(value):
            raise serializers.ValidationError("a tag glob has letters, digits and . _ - * ? [ ] only (e.g. v*)")
        return value

    def validate_branch(self, value: str) -> str:
        return ref_name(value, "branch") if value else ""


class PipelineSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(
        source="project_id", min_value=1, max_value=MAX_ID, help_text="A project where you are owner."
    )
    credential = serializers.IntegerField(
        source="credential_id",
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text="One of your own source code credentials (GET /api/v1/credentials/), or null.",
    )
    repository_url = serializers.CharField(max_length=500, help_text="Clone URL (https, ssh or git@host:path).")
    default_branch = serializers.CharField(max_length=255, required=False, help_text="Default: main.")
    schedules = ScheduleSerializer(
        many=True, required=False, max_length=MAX_LIST, help_text="Cron triggers; a write replaces the whole list."
    )
    image_triggers = ImageTriggerSerializer(
        many=True, required=False, max_length=MAX_LIST, help_text="Image push triggers; a write replaces the list."
    )
    # A plain string, not the State enum again: one enum under two names confuses generated clients.
    last_run_state = serializers.CharField(
        read_only=True,
        help_text="The newest execution's state (Queueing, Waiting, Building, Success, Failed, Aborted, Skipped); "
        "empty before the first run.",
    )
    webhook_url = serializers.SerializerMethodField(
        help_text="Where the provider delivers webhooks; the secret is never shown (see rotate-secret)."
    )

    class Meta:
        model = Pipeline
        fields = [
            "id",
            "project",
            "name",
            "repository_url",
            "provider",
            "credential",
            "default_branch",
            "trigger_push",
            "trigger_pull_request",
            "trigger_tag",
            "poll",
            "schedules",
            "image_triggers",
            "webhook_url",
            "last_run_state",
            "last_run_at",
            "created_at",
        ]
        read_only_fields = ["id", "last_run_state", "last_run_at", "created_at"]
        validators: list[Any] = []  # (project, name) uniqueness: the service answers it, races included

    @extend_schema_field(serializers.URLField())
    def get_webhook_url(self, obj: Pipeline) -> str:
        return webhook_url(obj)

    def _user(self) -> Any:
        return self.context["request"].user

    def validate_project(self, value: int) -> int:
        if self.instance is not None and value != self.instance.project_id:
            raise serializers.ValidationError("a pipeline cannot move to another project")
        return value

    def validate_repository_url(self, value: str) -> str:
        if self.instance is not None and value == self.instance.repository_url:
            return value  # unchanged: a local path set by staff stays editable by the project's owners
        user = self._user()
        return check_repository_url(value, local_allowed=bool(user.is_staff or user.is_superuser))

    def validate_default_branch(self, value: str) -> str:
        return ref_name(value, "branch")

    def validate_credential(self, value: int | None) -> int | None:
        if value is None or (self.instance is not None and value == self.instance.credential_id):
            return value  # keeping the current one (maybe another owner's) is not using a credential
        if not SourceCodeCredential.objects.filter(pk=value, user_id=self._user().pk).exists():
            raise serializers.ValidationError(NO_SUCH_CREDENTIAL)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        provider = attrs.get("provider", instance.provider if instance else Provider.GIT)
        credential_id = attrs.get("credential_id", instance.credential_id if instance else None)
        url = attrs.get("repository_url", instance.repository_url if instance else "")
        credential = SourceCodeCredential.objects.filter(pk=credential_id).first() if credential_id else None
        if credential is None:
            return attrs
        if credential.provider != provider:
            raise serializers.ValidationError(
                {"credential": [f"this credential is for {credential.provider}; the pipeline's provider is {provider}"]}
            )
        cls = provider_class(provider)
        if cls.has_api and ("repository_url" in attrs or "credential_id" in attrs or "provider" in attrs):
            try:
                cls(credential.host).repo_path(url)
            except (ProviderError, ValueError) as exc:
                raise serializers.ValidationError({"repository_url": [str(exc)]}) from None
        return attrs


class RunSerializer(serializers.Serializer):
    branch = serializers.CharField(max_length=255, required=False, help_text="Default: the repository's HEAD.")
    tag = serializers.CharField(max_length=255, required=False, help_text="Run a tag instead of a branch.")
    commit = serializers.RegexField(
        r"^[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$",
        required=False,
        help_text="A full commit SHA (default: the head of the branch or the tag).",
        error_messages={"invalid": "expected a full hexadecimal commit SHA (40 or 64 characters)"},
    )
    config = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_BYTES,
        help_text="A pipeline file body to run once instead of the repository's (the temporary config); "
        "nothing is committed.",
    )

    def validate_branch(self, value: str) -> str:
        return ref_name(value, "branch")

    def validate_tag(self, value: str) -> str:
        return ref_name(value, "tag")

    def validate_commit(self, value: str) -> str:
        return value.lower()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("branch") and attrs.get("tag"):
            raise serializers.ValidationError({"tag": ["give a branch or a tag, not both"]})
        return attrs


class ConfigErrorSerializer(serializers.Serializer):
    file = serializers.CharField(help_text="The pipeline file, a template's name, or `(temporary)`.")
    line = serializers.IntegerField(help_text="1-based.")
    column = serializers.IntegerField(help_text="1-based.")
    message = serializers.CharField()


class RunResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField()
    state = serializers.CharField()
    branch = serializers.CharField()
    tag = serializers.CharField()
    commit = serializers.CharField()
    event = serializers.CharField()
    config_file = serializers.CharField(help_text="`(temporary)` for a run of a posted config.")
    url = serializers.URLField(help_text="The execution in the API.")


class RunRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    config_errors = ConfigErrorSerializer(
        many=True, required=False, help_text="When the pipeline file does not parse: every error with its position."
    )


class ValidateSerializer(serializers.Serializer):
    config = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_BYTES)
    project = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Expand `template:` with this project's templates."
    )


class ValidateResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    stages = serializers.IntegerField(
        allow_null=True, help_text="How many stages would run (with the implicit clone stage); null when invalid."
    )
    stage_names = serializers.ListField(child=serializers.CharField())
    errors = ConfigErrorSerializer(many=True)


class SecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="Shown this once; configure it on the provider's webhook.")


class UpstreamErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What the source code provider answered.")
