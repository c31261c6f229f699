"""A project's settings page (owners): every setting with its default, all-or-nothing saves with the
errors beside their fields, secrets and registry credentials whose values never appear in any page,
and members with the last-owner rule enforced by the service."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from devops.models import PipelineSetting, ProjectMember, ProjectSecret, RegistryCredential
from devops.project_settings import SETTINGS
from devops.services import LAST_OWNER

SECRET_VALUE = "s3cr3t-value-that-must-never-show"
SECOND_VALUE = "an0ther-hidden-value"
PASSWORD_VALUE = "registry-password-never-shown"


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    pipeline = make_pipeline(make_repo(None))
    tag = h.unique_name("u")
    users, clients = {}, {}
    for role in ("owner", "member", "viewer"):
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}")
        ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
        clients[role] = Client()
        clients[role].force_login(users[role])
    return type("World", (), {"project": pipeline.project, "users": users, "clients": clients})


def html(response) -> str:
    return response.content.decode()


def settings_url(world, tail: str = "") -> str:
    return f"/projects/{world.project.pk}/settings/{tail}"


def stored(world) -> dict[str, str]:
    return dict(PipelineSetting.objects.filter(project=world.project).values_list("key", "value"))


def form_values(body: str) -> dict[str, str]:
    """The settings form's fields as the browser would post them back unchanged."""
    values = dict(re.findall(r'<input type="text" name="([a-z-]+)" id="id_[a-z-]+" value="([^"]*)"', body))
    values.update(re.findall(r'<textarea name="([a-z-]+)" id="id_[a-z-]+"[^>]*>([^<]*)</textarea>', body))
    for key, selected in re.findall(
        r'<select name="([a-z-]+)" id="id_[a-z-]+">\s*<option value="on"( selected)?', body
    ):
        values[key] = "on" if selected else "off"
    return values


# --- settings ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_every_setting_is_shown_with_its_default(world):
    body = html(world.clients["owner"].get(settings_url(world)))
    values = form_values(body)
    assert set(values) == set(SETTINGS)
    for key, definition in SETTINGS.items():
        assert f'id="setting-{key}"' in body
        assert f"<code>{definition.default() or '(empty)'}</code>" in body or key == "cache-root"
    assert values["cache-root"] == stored(world)["cache-root"]  # the fixture's own value is shown


@pytest.mark.django_db
def test_unchanged_form_saves_nothing_and_a_change_saves_only_that_key(world):
    client = world.clients["owner"]
    before = stored(world)
    values = form_values(html(client.get(settings_url(world))))
    response = client.post(settings_url(world), values, follow=True)
    assert "nothing changed" in html(response) and stored(world) == before
    values["executor-quota"] = "5"
    values["mirrors"] = "PIP_INDEX_URL=https://pypi.example.com/simple"
    values["serverless"] = "on"
    client.post(settings_url(world), values)
    assert stored(world) == {**before, "executor-quota": "5", "serverless": "on",
                             "mirrors": "PIP_INDEX_URL=https://pypi.example.com/simple"}  # fmt: skip
    # An emptied field goes back to the default (the row is removed).
    values["executor-quota"] = ""
    client.post(settings_url(world), values)
    assert "executor-quota" not in stored(world)


@pytest.mark.django_db
def test_invalid_settings_show_errors_per_field_and_save_nothing(world):
    client = world.clients["owner"]
    before = stored(world)
    values = form_values(html(client.get(settings_url(world))))
    values.update({"executor-quota": "many", "executor-cpu-request": "4", "executor-cpu-limit": "2",
                   "executor-memory-limit": "256Mi", "mirrors": "NOPE=x"})  # fmt: skip
    response = client.post(settings_url(world), values)
    assert response.status_code == 400
    body = html(response)
    assert "Nothing was saved" in body
    for key, message in [
        ("executor-quota", "expected a non-negative integer"),
        ("mirrors", "expected NAME=URL lines"),
    ]:
        block = body.split(f'id="setting-{key}"', 1)[1].split('<div class="setting', 1)[0]
        assert message in block, key
    assert "is more than executor-cpu-limit 2" in body
    assert 'value="many"' in body  # the typed values stay in the form to be fixed
    assert stored(world) == before
    # The pair check also covers one side against the stored other side.
    values = form_values(html(client.get(settings_url(world))))
    values["executor-memory-limit"] = "64Mi"  # below the default request of 128Mi
    response = client.post(settings_url(world), values)
    assert response.status_code == 400 and "Kubernetes rejects a request above its limit" in html(response)
    assert stored(world) == before


@pytest.mark.django_db
def test_members_and_viewers_cannot_post_settings(world):
    for role in ("member", "viewer"):
        client = world.clients[role]
        assert client.post(settings_url(world), {"executor-quota": "9"}).status_code == 403
        assert client.post(settings_url(world, "secrets/"), {"action": "create", "name": "x",
                                                             "values": "A=1"}).status_code == 403  # fmt: skip
        assert client.post(settings_url(world, "registries/"), {"action": "create"}).status_code == 403
        assert client.post(settings_url(world, "members/"), {"action": "add"}).status_code == 403
    assert "executor-quota" not in stored(world) and not ProjectSecret.objects.exists()


# --- secrets and registry credentials ----------------------------------------------------------------
def every_page(world) -> list[str]:
    client = world.clients["owner"]
    paths = ["/", f"/projects/{world.project.pk}/", settings_url(world)]
    return [html(client.get(path)) for path in paths]


@pytest.mark.django_db
def test_secrets_list_names_and_keys_never_values(world):
    client = world.clients["owner"]
    url = settings_url(world, "secrets/")
    response = client.post(url, {"action": "create", "name": "deploy", "values": f"TOKEN={SECRET_VALUE}\nURL=a=b\n"})
    assert response.status_code == 302
    secret = ProjectSecret.objects.get(project=world.project, name="deploy")
    assert secret.data == {"TOKEN": SECRET_VALUE, "URL": "a=b"}
    client.post(url, {"action": "set", "secret": secret.pk, "values": f"OTHER={SECOND_VALUE}"})
    secret.refresh_from_db()
    assert set(secret.data) == {"TOKEN", "URL", "OTHER"}
    page = html(client.get(settings_url(world)))
    assert "deploy" in page and "TOKEN" in page and "OTHER" in page
    for body in every_page(world):
        assert SECRET_VALUE not in body and SECOND_VALUE not in body

    # Refusals never echo a value either, and change nothing.
    for body, message in [
        ({"action": "create", "name": "Bad Name", "values": f"K={SECRET_VALUE}"}, "DNS-1123"),
        ({"action": "create", "name": "other", "values": f"bad key={SECRET_VALUE}"}, "a key is letters"),
        ({"action": "create", "name": "other", "values": f"{SECRET_VALUE}"}, "line 1: expected KEY=value"),
        ({"action": "create", "name": "deploy", "values": f"K={SECRET_VALUE}"}, "already exists"),
        ({"action": "create", "name": "empty", "values": ""}, "at least one key"),
        ({"action": "set", "secret": secret.pk, "values": ""}, "at least one KEY=value"),
    ]:
        refused = client.post(url, body)
        assert refused.status_code == 400, body
        assert message in html(refused) and SECRET_VALUE not in html(refused), body
    assert ProjectSecret.objects.filter(project=world.project).count() == 1

    client.post(url, {"action": "remove-key", "secret": secret.pk, "key": "OTHER"})
    client.post(url, {"action": "remove-key", "secret": secret.pk, "key": "URL"})
    last = client.post(url, {"action": "remove-key", "secret": secret.pk, "key": "TOKEN"})
    assert last.status_code == 400 and "at least one key" in html(last)
    secret.refresh_from_db()
    assert secret.data == {"TOKEN": SECRET_VALUE}
    client.post(url, {"action": "delete", "secret": secret.pk})
    assert not ProjectSecret.objects.exists()


@pytest.mark.django_db
def test_registry_credentials_password_is_write_only(world):
    client = world.clients["owner"]
    url = settings_url(world, "registries/")
    body = {"action": "create", "registry": "Registry.Example.com:5000", "username": "bot", "password": PASSWORD_VALUE}
    assert client.post(url, body).status_code == 302
    credential = RegistryCredential.objects.get(project=world.project)
    assert credential.registry == "registry.example.com:5000" and credential.password == PASSWORD_VALUE
    for page in every_page(world):
        assert PASSWORD_VALUE not in page
    assert "registry.example.com:5000" in html(client.get(settings_url(world)))
    # Changing the username keeps the password; a typed password replaces it.
    client.post(url, {"action": "update", "registry_id": credential.pk, "username": "robot", "password": ""})
    credential.refresh_from_db()
    assert (credential.username, credential.password) == ("robot", PASSWORD_VALUE)
    client.post(url, {"action": "update", "registry_id": credential.pk, "username": "robot", "password": "new-pw"})
    credential.refresh_from_db()
    assert credential.password == "new-pw"
    for body, message in [
        ({"action": "create", "registry": "https://x.io/", "username": "u", "password": PASSWORD_VALUE}, "host[:port]"),
        ({"action": "create", "registry": "x.io", "username": "u"}, "required when adding"),
        ({"action": "create", "registry": "registry.example.com:5000", "username": "u", "password": PASSWORD_VALUE},
         "already has a credential"),
        ({"action": "delete", "registry_id": "999999"}, "no such registry credential"),
    ]:  # fmt: skip
        refused = client.post(url, body)
        assert refused.status_code == 400 and message in html(refused), body
        assert PASSWORD_VALUE not in html(refused)
    client.post(url, {"action": "delete", "registry_id": credential.pk})
    assert not RegistryCredential.objects.exists()


# --- members -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_members_add_change_remove_and_the_last_owner_stays(world, django_user_model, h):
    client = world.clients["owner"]
    url = settings_url(world, "members/")
    newcomer = django_user_model.objects.create_user(h.unique_name("new"))
    assert client.post(url, {"action": "add", "username": newcomer.username, "role": "viewer"}).status_code == 302
    added = ProjectMember.objects.get(project=world.project, user=newcomer)
    assert added.role == "viewer" and newcomer.username in html(client.get(settings_url(world)))
    for body, message in [
        ({"action": "add", "username": "nobody-here", "role": "member"}, "no active user named"),
        ({"action": "add", "username": newcomer.username, "role": "member"}, "already a member"),
        ({"action": "add", "username": newcomer.username, "role": "king"}, "is not a valid choice"),
        ({"action": "role", "member": added.pk, "role": "king"}, "is not a valid choice"),
    ]:
        refused = client.post(url, body)
        assert refused.status_code == 400 and message in html(refused), body
    client.post(url, {"action": "role", "member": added.pk, "role": "member"})
    added.refresh_from_db()
    assert added.role == "member"
    client.post(url, {"action": "remove", "member": added.pk})
    assert not ProjectMember.objects.filter(pk=added.pk).exists()

    owner = ProjectMember.objects.get(project=world.project, user=world.users["owner"])
    for body in ({"action": "remove", "member": owner.pk}, {"action": "role", "member": owner.pk, "role": "viewer"}):
        refused = client.post(url, body)
        assert refused.status_code == 400 and LAST_OWNER in html(refused)
    owner.refresh_from_db()
    assert owner.role == "owner"

    # With a second owner, stepping down is allowed and the page sends the ex-owner to the project.
    viewer = ProjectMember.objects.get(project=world.project, user=world.users["viewer"])
    client.post(url, {"action": "role", "member": viewer.pk, "role": "owner"})
    response = client.post(url, {"action": "role", "member": owner.pk, "role": "member"})
    assert response.status_code == 302 and response["Location"] == f"/projects/{world.project.pk}/"
    assert client.get(settings_url(world)).status_code == 403
