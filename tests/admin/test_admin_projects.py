"""The project page: every pipeline setting with its default and the registry's validation; secrets
and registry passwords write-only (an empty field keeps what is stored)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devops.models import PipelineSetting, Project, ProjectSecret, RegistryCredential
from devops.project_settings import SETTINGS
from devops.selectors import project_settings

pytestmark = pytest.mark.django_db


def field(key: str) -> str:
    return "setting_" + key.replace("-", "_")


def change_url(project) -> str:
    return reverse("admin:devops_project_change", args=[project.pk])


def stored(project) -> dict[str, str]:
    return dict(PipelineSetting.objects.filter(project=project).values_list("key", "value"))


def test_every_setting_is_listed_with_its_default(staff, world):
    response = staff.get(change_url(world.project))
    form = response.context["adminform"].form
    html = response.content.decode()
    for key, definition in SETTINGS.items():
        assert field(key) in form.fields, key
        default = definition.default() or "(empty)"
        assert f'placeholder="{default}"' in html, key
        assert f"Default: {default}" in html, key
    assert form[field("executor-quota")].value() == ""  # not stored: the default applies
    assert form[field("cache-root")].value() == stored(world.project)["cache-root"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("executor-quota", "-1", "executor-quota: expected a non-negative integer"),
        ("executor-quota", "abc", "executor-quota: expected a non-negative integer"),
        ("cache-node-count", "1.5", "cache-node-count: expected a non-negative integer"),
        ("executor-cpu-request", "fast", "executor-cpu-request: expected a Kubernetes quantity"),
        ("executor-memory-limit", "12XB", "executor-memory-limit: expected a Kubernetes quantity"),
        ("executor-memory-request", "-5Mi", "executor-memory-request: expected a Kubernetes quantity"),
        ("executor-cpu-request", "2", "executor-cpu-request 2 is more than executor-cpu-limit 1"),
        ("executor-memory-limit", "64Mi", "executor-memory-request 128Mi is more than executor-memory-limit 64Mi"),
        ("serverless", "maybe", "serverless: expected on or off"),
        ("cache-root", "relative/dir", "cache-root: expected an absolute path"),
    ],
)
def test_an_invalid_setting_is_refused_with_its_key_and_nothing_changes(
    staff, world, admin_helpers, key, value, message
):
    before = stored(world.project)
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    data[field(key)] = value
    data["display_name"] = "renamed"
    data[field("executor-quota")] = data[field("executor-quota")] if key == "executor-quota" else "7"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field(key), [])), errors
    assert message.encode() in response.content
    assert stored(world.project) == before
    assert Project.objects.get(pk=world.project.pk).display_name != "renamed"


def test_valid_settings_are_stored_and_an_empty_field_means_the_default(staff, world, admin_helpers):
    PipelineSetting.objects.create(project=world.project, key="serverless", value="on")
    data = admin_helpers.form_data(staff.get(change_url(world.project)))
    assert data[field("serverless")] == "on"
    data[field("executor-quota")] = "0"
    data[field("executor-cpu-request")] = "250m"
    data[field("executor-memory-limit")] = "2Gi"
    data[field("mirrors")] = "PIP_INDEX_URL=https://pypi.example.com/simple\nGOPROXY=https://proxy.example.com"
    data[field("serverless")] = ""  # back to the default: the row goes
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rows = stored(world.project)
    assert rows["executor-quota"] == "0"
    assert rows["executor-cpu-request"] == "250m"
    assert rows["executor-memory-limit"] == "2Gi"
    assert rows["mirrors"].startswith("PIP_INDEX_URL=")
    assert "serverless" not in rows
    assert project_settings(world.project)["serverless"] == SETTINGS["serverless"].default()


def test_a_new_project_gets_its_settings(staff, admin_helpers, h):
    data = admin_helpers.form_data(staff.get(reverse("admin:devops_project_add")))
    name = h.unique_name("new")
    data.update({"name": name, "display_name": "New", "namespaces": '["apps"]', field("executor-quota"): "5"})
    response = staff.post(reverse("admin:devops_project_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    project = Project.objects.get(name=name)
    assert project.namespaces == ["apps"]
    assert stored(project) == {"executor-quota": "5"}


# --- secrets ------------------------------------------------------------------------------------------------
def secret_data(world) -> dict[str, str]:
    return ProjectSecret.objects.get(pk=world.secret.pk).data


def test_secret_values_are_never_rendered_and_an_empty_field_keeps_them(staff, world, admin_helpers):
    before = secret_data(world)
    page = staff.get(change_url(world.project))
    admin_helpers.assert_no_secret(page.content, world.all_secrets(), "the project page")
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectsecret")
    assert data[f"{prefix}-0-values"] == ""
    data["display_name"] = "edited"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 302
    assert Project.objects.get(pk=world.project.pk).display_name == "edited"
    assert secret_data(world) == before


def test_secret_lines_add_and_replace_keys_and_ticked_keys_go(staff, world, admin_helpers):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectsecret")
    data[f"{prefix}-0-values"] = "# comment\nNEW_KEY=new=value with = signs\n\nAPI_KEY=rotated\n"
    data[f"{prefix}-0-remove_keys"] = ["OTHER"]
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 302
    assert secret_data(world) == {"API_KEY": "rotated", "NEW_KEY": "new=value with = signs"}


def test_a_bad_secret_line_names_the_line_but_never_echoes_it(staff, world, admin_helpers):
    before = secret_data(world)
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectsecret")
    data[f"{prefix}-0-values"] = "GOOD=fine\nno-equals-sign-s3cr3t-LEAK"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200
    assert b"line 2: expected KEY=value" in response.content
    assert b"s3cr3t-LEAK" not in response.content and b"GOOD=fine" not in response.content
    admin_helpers.assert_no_secret(response.content, world.all_secrets(), "the refused project page")
    data[f"{prefix}-0-values"] = "BAD KEY=x"
    response = staff.post(change_url(world.project), data)
    assert b"line 1: a key may use letters" in response.content
    assert secret_data(world) == before


def test_a_new_secret_from_the_project_page(staff, world, admin_helpers):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectsecret")
    admin_helpers.add_inline_row(data, prefix, {"name": "npm", "values": "NPM_TOKEN=tok-123"})
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 302
    assert ProjectSecret.objects.get(project=world.project, name="npm").data == {"NPM_TOKEN": "tok-123"}
    assert b"tok-123" not in staff.get(change_url(world.project)).content


# --- registry credentials ---------------------------------------------------------------------------------------
def test_registry_password_is_write_only_and_empty_keeps_it(staff, world, admin_helpers):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "registrycredential")
    assert data[f"{prefix}-0-password"] == ""
    data[f"{prefix}-0-username"] = "robot2"
    assert staff.post(change_url(world.project), data).status_code == 302
    row = RegistryCredential.objects.get(pk=world.registry.pk)
    assert (row.username, row.password) == ("robot2", world.secrets["registry password"])

    data[f"{prefix}-0-password"] = "s3cr3t-NEW-registry-pass"
    assert staff.post(change_url(world.project), data).status_code == 302
    assert RegistryCredential.objects.get(pk=world.registry.pk).password == "s3cr3t-NEW-registry-pass"
    assert b"s3cr3t-NEW-registry-pass" not in staff.get(change_url(world.project)).content


def test_a_new_registry_needs_a_password_and_a_refused_page_does_not_echo_one(staff, world, admin_helpers):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "registrycredential")
    admin_helpers.add_inline_row(data, prefix, {"registry": "ghcr.io", "username": "bot", "password": ""})
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200
    assert b"Password is required." in response.content
    # A valid password posted next to an invalid setting comes back empty, never echoed.
    data[f"{prefix}-1-password"] = "s3cr3t-POSTED-pass"
    data[field("executor-quota")] = "-1"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"s3cr3t-POSTED-pass" not in response.content
    assert not RegistryCredential.objects.filter(project=world.project, registry="ghcr.io").exists()
    data[field("executor-quota")] = ""
    assert staff.post(change_url(world.project), data).status_code == 302
    assert RegistryCredential.objects.get(project=world.project, registry="ghcr.io").password == "s3cr3t-POSTED-pass"


def test_members_inline_adds_a_member(staff, world, admin_helpers, django_user_model, h):
    user = django_user_model.objects.create_user(h.unique_name("viewer"))
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectmember")
    admin_helpers.add_inline_row(data, prefix, {"user": str(user.pk), "role": "viewer"})
    assert staff.post(change_url(world.project), data).status_code == 302
    assert world.project.members.get(user=user).role == "viewer"


def test_a_secret_keeps_at_least_one_key(staff, world, admin_helpers):
    before = secret_data(world)
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectsecret")
    data[f"{prefix}-0-remove_keys"] = ["API_KEY", "OTHER"]
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"a secret needs at least one key" in response.content
    assert secret_data(world) == before
    data[f"{prefix}-0-remove_keys"] = []
    admin_helpers.add_inline_row(data, prefix, {"name": "empty", "values": "# nothing but a comment"})
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"a secret needs at least one key" in response.content
    assert not ProjectSecret.objects.filter(project=world.project, name="empty").exists()
    # Deleting the whole secret is how all of its keys go.
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data[f"{prefix}-0-DELETE"] = "on"
    assert staff.post(change_url(world.project), data).status_code == 302
    assert not ProjectSecret.objects.filter(pk=world.secret.pk).exists()


def test_the_last_owner_cannot_be_demoted_or_removed(staff, world, admin_helpers):
    owner = world.project.members.get()
    owner.role = "owner"
    owner.save()
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, "projectmember")
    data[f"{prefix}-0-role"] = "viewer"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"a project needs at least one owner" in response.content
    data[f"{prefix}-0-role"] = "owner"
    data[f"{prefix}-0-DELETE"] = "on"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"a project needs at least one owner" in response.content
    assert world.project.members.get().role == "owner"


def test_a_project_keeps_its_name(staff, world, admin_helpers):
    data = admin_helpers.form_data(staff.get(change_url(world.project)))
    assert "name" not in data
    data["name"] = "renamed-project"
    assert staff.post(change_url(world.project), data).status_code == 302
    assert Project.objects.get(pk=world.project.pk).name == world.project.name


@pytest.mark.parametrize(
    ("inline", "row"),
    [
        ("projectsecret", {"name": "deploy", "values": "A=b"}),
        ("registrycredential", {"registry": "registry.example.com", "username": "x", "password": "y"}),
        ("projectmember", {"user": None, "role": "viewer"}),
    ],
)
def test_a_duplicate_row_in_an_inline_is_a_message(staff, world, admin_helpers, inline, row):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    prefix = admin_helpers.inline_prefix(page, inline)
    if inline == "projectmember":
        row = {**row, "user": str(world.project.members.get().user_id)}
    admin_helpers.add_inline_row(data, prefix, row)
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200
    assert b"Please correct the duplicate" in response.content or b"already exists" in response.content


@pytest.mark.parametrize(
    ("field_name", "value", "message"),
    [
        ("namespaces", '{"a": 1}', b"expected a JSON list of namespace names"),
        ("namespaces", '["Team_A"]', b"is not a DNS-1123 label"),
        ("namespaces", '["kube-system"]', b"is a system namespace"),
        ("namespaces", '["x-pipeline"]', b"a name ending in -pipeline"),
        ("namespaces", '["apps", "apps"]', b"a namespace is listed twice"),
        ("namespaces", '["taken-ns"]', b"already belongs to another project"),
        ("namespaces", "[not json", b"Enter a valid JSON"),
    ],
)
def test_namespaces_are_checked(staff, world, admin_helpers, field_name, value, message):
    Project.objects.filter(pk=world.other_project.pk).update(namespaces=["taken-ns"])
    data = admin_helpers.form_data(staff.get(change_url(world.project)))
    data[field_name] = value
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and message in response.content
    assert Project.objects.get(pk=world.project.pk).namespaces == []


def test_a_new_project_name_is_a_dns_label(staff, admin_helpers):
    data = admin_helpers.form_data(staff.get(reverse("admin:devops_project_add")))
    data["name"] = "Not_A_Label"
    response = staff.post(reverse("admin:devops_project_add"), data)
    assert response.status_code == 200 and b"is not a DNS-1123 label" in response.content
    assert not Project.objects.filter(name="Not_A_Label").exists()


def test_registry_and_secret_names_follow_the_api_rules(staff, world, admin_helpers):
    page = staff.get(change_url(world.project))
    data = admin_helpers.form_data(page)
    registries = admin_helpers.inline_prefix(page, "registrycredential")
    data[f"{registries}-0-registry"] = "https://registry.example.com/path"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"host[:port] (no scheme, no path)" in response.content
    data[f"{registries}-0-registry"] = "registry.example.com"
    secrets = admin_helpers.inline_prefix(page, "projectsecret")
    data[f"{secrets}-0-name"] = "Bad_Name"
    response = staff.post(change_url(world.project), data)
    assert response.status_code == 200 and b"is not a DNS-1123 label" in response.content
    assert ProjectSecret.objects.get(pk=world.secret.pk).name == "deploy"
    assert RegistryCredential.objects.get(pk=world.registry.pk).registry == "registry.example.com"
