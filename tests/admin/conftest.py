"""Admin tests: a world holding one of every record the admin shows, with a known value in every
secret column, and helpers that post an admin page's own form back (as a browser would).

Executions are made by the real trigger (git, pipeline file, engine). These tests run inside a
transaction whose on-commit hooks never fire, so an execution stays ``Queueing`` (no worker needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig: {image: alpine, shellScript: 'echo compiled'}
  - name: Test
    steps:
      - name: unit
        runScriptConfig: {image: alpine, shellScript: 'echo tested'}
"""

# Distinct, greppable values for every secret the admin must never show.
SECRETS = {
    "project secret value": "s3cr3t-PROJECT-value-7Qx",
    "second project secret value": "s3cr3t-OTHER-value-9Lm",
    "registry password": "s3cr3t-REGISTRY-pass-4Kd",
    "provider client secret": "s3cr3t-CLIENT-secret-2Hw",
    "credential access token": "s3cr3t-ACCESS-token-8Rt",
    "credential refresh token": "s3cr3t-REFRESH-token-5Vb",
    "kubeconfig token": "s3cr3t-KUBE-token-3Np",
}


@dataclass
class World:
    project: Any
    other_project: Any
    pipeline: Any
    execution: Any
    secret: Any
    registry: Any
    provider: Any
    credential: Any
    repository: Any
    cluster: Any
    schedule: Any
    image_trigger: Any
    delivery: Any
    template: Any
    secrets: dict[str, str] = field(default_factory=dict)

    def all_secrets(self) -> dict[str, str]:
        return {**self.secrets, "webhook secret": type(self.pipeline).objects.get(pk=self.pipeline.pk).webhook_secret}


def kubeconfig(token: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "ci",
            "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example.com:6443"}}],
            "users": [{"name": "ci", "user": {"token": token}}],
            "contexts": [{"name": "ci", "context": {"cluster": "c", "user": "ci"}}],
        }
    )


@pytest.fixture
def world(make_repo, make_pipeline, trigger, django_user_model, h) -> World:
    from devops.models import (
        Cluster,
        ImageTrigger,
        PipelineSchedule,
        PipelineTemplate,
        ProjectMember,
        ProjectSecret,
        RegistryCredential,
        SourceCodeCredential,
        SourceCodeProviderConfig,
        SourceCodeRepository,
    )
    from devops.schedules import save_schedule
    from devops.webhooks.deliveries import record_delivery

    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    project = pipeline.project
    execution = trigger(pipeline, branch="main")
    other = make_pipeline(make_repo(PIPELINE), name="other").project
    member = django_user_model.objects.create_user(h.unique_name("member"))
    ProjectMember.objects.create(project=project, user=member, role="member")
    secret = ProjectSecret.objects.create(
        project=project,
        name="deploy",
        data={"API_KEY": SECRETS["project secret value"], "OTHER": SECRETS["second project secret value"]},
    )
    registry = RegistryCredential.objects.create(
        project=project, registry="registry.example.com", username="robot", password=SECRETS["registry password"]
    )
    provider = SourceCodeProviderConfig.objects.create(
        provider="github",
        host="",
        client_id="client-id-1",
        client_secret=SECRETS["provider client secret"],
        enabled=True,
    )
    credential = SourceCodeCredential.objects.create(
        user=member,
        provider="github",
        login="octo-login",
        access_token=SECRETS["credential access token"],
        refresh_token=SECRETS["credential refresh token"],
    )
    repository = SourceCodeRepository.objects.create(
        credential=credential,
        url="https://github.com/octo/app",
        clone_url="https://github.com/octo/app.git",
        permissions={"admin": True},
    )
    cluster = Cluster.objects.create(name=h.unique_name("cluster"), kubeconfig=kubeconfig(SECRETS["kubeconfig token"]))
    other.cluster = cluster
    other.save(update_fields=["cluster"])
    schedule = save_schedule(PipelineSchedule(pipeline=pipeline, cron="0 3 * * 1-5", branch="main"))
    image_trigger = ImageTrigger.objects.create(pipeline=pipeline, image="library/app", tag="v*")
    delivery = record_delivery(
        pipeline, source="github", delivery_id="delivery-42", event="push", payload={"kind": "push", "branch": "main"}
    )
    template = PipelineTemplate.objects.create(project=project, name="tpl", body=PIPELINE, params={"IMAGE": "alpine"})
    return World(
        project=project,
        other_project=other,
        pipeline=pipeline,
        execution=execution,
        secret=secret,
        registry=registry,
        provider=provider,
        credential=credential,
        repository=repository,
        cluster=cluster,
        schedule=schedule,
        image_trigger=image_trigger,
        delivery=delivery,
        template=template,
        secrets=dict(SECRETS),
    )


# --- posting an admin page's own form back -------------------------------------------------------------
def _put(data: dict[str, Any], bound_field: Any) -> None:
    from django import forms

    from devops.admin.common import WriteOnlyTextarea

    widget = bound_field.field.widget
    value = bound_field.value()
    name = bound_field.html_name
    if isinstance(widget, WriteOnlyTextarea) or (isinstance(widget, forms.PasswordInput) and not widget.render_value):
        data[name] = ""  # what the page shows (nothing), so what a browser sends back
    elif isinstance(widget, forms.CheckboxInput):
        if value:
            data[name] = "on"
    elif isinstance(widget, forms.CheckboxSelectMultiple | forms.SelectMultiple):
        data[name] = list(value or [])
    else:
        data[name] = "" if value is None else value


def form_data(response: Any) -> dict[str, Any]:
    """The POST a browser would send for an admin add/change page as rendered (every inline included)."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        _put(data, form[name])
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management[name].html_name] = management[name].value()
        for child in formset.forms:
            for name in child.fields:
                _put(data, child[name])
    return data


def inline_prefix(response: Any, model_name: str) -> str:
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.model._meta.model_name == model_name:
            return inline.formset.prefix
    raise AssertionError(f"no inline for {model_name}")


def add_inline_row(data: dict[str, Any], prefix: str, values: dict[str, Any]) -> None:
    """Append a new row to an inline formset in ``data``."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for key, value in values.items():
        data[f"{prefix}-{index}-{key}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)


def assert_no_secret(content: bytes, secrets: dict[str, str], where: str) -> None:
    for label, value in secrets.items():
        assert value.encode() not in content, f"{label} appears in {where}"


@pytest.fixture
def admin_helpers() -> SimpleNamespace:
    return SimpleNamespace(
        form_data=form_data,
        inline_prefix=inline_prefix,
        add_inline_row=add_inline_row,
        assert_no_secret=assert_no_secret,
        kubeconfig=kubeconfig,
    )


@pytest.fixture
def staff(admin_user) -> Client:
    """A staff superuser's browser session (pytest-django's ``admin_user``)."""
    client = Client()
    client.force_login(admin_user)
    return client
