"""``/api/v1/pipelines/``: the role matrix (owner, member, viewer, staff, outsider who owns another
project), validation messages with their field paths, schedules and image triggers replaced as a
whole, and the webhook secret that no answer but ``rotate-secret`` ever contains.

Schedules, image triggers and the remote webhook are in test_api_pipelines_triggers.py; runs and
file validation in test_api_pipelines_run.py.
"""

from __future__ import annotations

import json

import pytest
from pipelines_world import (
    NETWORK_URL,
    PIPELINE,
    ROLES,
    TOKEN,
    assert_no_secret,
    errors,
    new_body,
    post,
)
from rest_framework.test import APIClient

from devops.models import (
    Pipeline,
    PipelineSchedule,
    SourceCodeCredential,
)

# --- the role matrix -----------------------------------------------------------------------------------
READ = {"owner": 200, "member": 200, "viewer": 200, "staff": 200, "outsider": 404}
OWNER_WRITE = {"owner": 200, "member": 403, "viewer": 403, "staff": 200, "outsider": 404}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_list_holds_only_pipelines_of_visible_projects(world, role):
    response = world.clients[role].get("/api/v1/pipelines/")
    assert response.status_code == 200
    assert_no_secret(world, response)
    ids = {row["id"] for row in response.json()["results"]}
    expected = {
        "outsider": {world.other.pk},
        "staff": {world.pipeline.pk, world.other.pk},
    }.get(role, {world.pipeline.pk})
    assert expected <= ids if role == "staff" else ids == expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_retrieve_statuses(world, role):
    response = world.clients[role].get(f"/api/v1/pipelines/{world.pipeline.pk}/")
    assert response.status_code == READ[role], response.content
    assert_no_secret(world, response)
    if response.status_code == 404:
        assert set(response.json()) == {"detail"}
        assert world.pipeline.name not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_create_needs_owner_of_the_project(world, role):
    response = post(world.clients[role], "/api/v1/pipelines/", new_body(world.pipeline.project_id))
    expected = {"owner": 201, "member": 403, "viewer": 403, "staff": 201, "outsider": 404}[role]
    assert response.status_code == expected, response.content
    assert_no_secret(world, response)
    assert Pipeline.objects.filter(project=world.pipeline.project, name="built").exists() == (expected == 201)
    if expected == 403:
        assert "owner" in response.json()["detail"]


@pytest.mark.django_db
def test_create_in_a_missing_project_is_404(world):
    response = post(world.clients["owner"], "/api/v1/pipelines/", new_body(10**15))
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_update_statuses(world, role, method):
    body = {"trigger_tag": False} if method == "patch" else new_body(world.pipeline.project_id, name="renamed")
    response = post(world.clients[role], f"/api/v1/pipelines/{world.pipeline.pk}/", body, method)
    assert response.status_code == OWNER_WRITE[role], response.content
    assert_no_secret(world, response)
    world.pipeline.refresh_from_db()
    changed = world.pipeline.trigger_tag is False if method == "patch" else world.pipeline.name == "renamed"
    assert changed == (response.status_code == 200)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_delete_statuses(world, role):
    response = world.clients[role].delete(f"/api/v1/pipelines/{world.pipeline.pk}/")
    expected = {**OWNER_WRITE, "owner": 204, "staff": 204}[role]
    assert response.status_code == expected, response.content
    assert Pipeline.objects.filter(pk=world.pipeline.pk).exists() == (expected != 204)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_rotate_secret_statuses_and_the_secret_is_shown_once(world, role):
    old = world.pipeline.webhook_secret
    response = post(world.clients[role], f"/api/v1/pipelines/{world.pipeline.pk}/rotate-secret/")
    assert response.status_code == OWNER_WRITE[role], response.content
    world.pipeline.refresh_from_db()
    if response.status_code == 200:
        secret = response.json()["webhook_secret"]
        assert secret == world.pipeline.webhook_secret != old and len(secret) >= 32
        again = world.clients[role].get(f"/api/v1/pipelines/{world.pipeline.pk}/")
        assert secret not in again.content.decode()
    else:
        assert world.pipeline.webhook_secret == old
        assert old not in response.content.decode()


@pytest.mark.django_db
def test_anonymous_is_refused(world):
    assert APIClient().get("/api/v1/pipelines/").status_code in (401, 403)
    assert post(APIClient(), "/api/v1/pipelines/validate/", {"config": PIPELINE}).status_code in (401, 403)


@pytest.mark.django_db
def test_token_auth_works(world):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=world.users["viewer"]).key
    response = APIClient().get(f"/api/v1/pipelines/{world.pipeline.pk}/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


# --- what a pipeline looks like --------------------------------------------------------------------------
@pytest.mark.django_db
def test_representation_has_the_webhook_url_and_never_a_secret_or_token(world, settings):
    settings.PUBLIC_URL = "https://ci.example.com/"
    pipeline = world.pipeline
    pipeline.credential = world.credentials["owner"]
    pipeline.save()
    raw = world.clients["viewer"].get(f"/api/v1/pipelines/{pipeline.pk}/").content.decode()
    body = json.loads(raw)
    assert body["webhook_url"] == f"https://ci.example.com/hooks/pipelines/{pipeline.pk}/"
    assert body["credential"] == world.credentials["owner"].pk
    assert body["project"] == pipeline.project_id
    assert "webhook_secret" not in body and pipeline.webhook_secret not in raw
    assert TOKEN not in raw
    listing = world.clients["staff"].get("/api/v1/pipelines/").content.decode()
    assert pipeline.webhook_secret not in listing and TOKEN not in listing
    assert set(body) == {
        "id", "project", "name", "repository_url", "provider", "credential", "default_branch", "trigger_push",
        "trigger_pull_request", "trigger_tag", "poll", "schedules", "image_triggers", "webhook_url",
        "last_run_state", "last_run_at", "created_at",
    }  # fmt: skip


@pytest.mark.django_db
def test_list_filters_by_project_and_provider(world):
    staff = world.clients["staff"]
    rows = staff.get(f"/api/v1/pipelines/?project={world.other.project_id}").json()["results"]
    assert [row["id"] for row in rows] == [world.other.pk]
    assert staff.get("/api/v1/pipelines/?provider=github").json()["results"] == []
    assert errors(staff.get("/api/v1/pipelines/?provider=svn"))["provider"]
    assert errors(staff.get("/api/v1/pipelines/?project=abc"))["project"]
    assert errors(staff.get("/api/v1/pipelines/?project=1.5"))["project"]
    # A foreign project is an empty list, exactly like a missing one: no existence leak.
    outsider = world.clients["outsider"]
    assert outsider.get(f"/api/v1/pipelines/?project={world.pipeline.project_id}").json()["results"] == []
    assert outsider.get("/api/v1/pipelines/?project=999999999").json()["results"] == []


@pytest.mark.django_db
def test_odd_ids_in_the_path_are_404(world):
    client = world.clients["staff"]
    for path in ("99999999999999999999999", "abc", "0", "-1"):
        assert client.get(f"/api/v1/pipelines/{path}/").status_code == 404


# --- validation -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_create_answers_the_full_pipeline(world):
    body = new_body(
        world.pipeline.project_id,
        credential=world.credentials["owner"].pk,
        default_branch="develop",
        trigger_pull_request=False,
        poll=True,
        schedules=[{"cron": "0 3 * * 1-5", "branch": "nightly", "timezone": "Europe/Berlin"}],
        image_triggers=[{"image": "library/app", "tag": "v*"}],
    )
    response = post(world.clients["owner"], "/api/v1/pipelines/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["credential"] == world.credentials["owner"].pk
    assert (data["default_branch"], data["trigger_pull_request"], data["poll"]) == ("develop", False, True)
    assert data["schedules"][0] | {"id": 0} == {
        "id": 0, "cron": "0 3 * * 1-5", "branch": "nightly", "timezone": "Europe/Berlin", "enabled": True
    }  # fmt: skip
    assert data["image_triggers"][0] | {"id": 0} == {
        "id": 0, "image": "library/app", "tag": "v*", "branch": "", "enabled": True
    }  # fmt: skip
    assert (data["last_run_state"], data["last_run_at"]) == ("", None)
    schedule = PipelineSchedule.objects.get(pipeline_id=data["id"])
    assert schedule.periodic_task.enabled and schedule.periodic_task.crontab.timezone.key == "Europe/Berlin"


@pytest.mark.django_db
def test_a_duplicate_name_is_400_on_name(world):
    response = post(world.clients["owner"], "/api/v1/pipelines/", new_body(world.pipeline.project_id, name="app"))
    assert "already has a pipeline named 'app'" in errors(response)["name"][0]
    response = post(world.clients["owner"], "/api/v1/pipelines/", new_body(world.pipeline.project_id, name="a b"))
    assert errors(response)["name"]
    # The same name in another project is fine.
    response = post(world.clients["outsider"], "/api/v1/pipelines/", new_body(world.other.project_id, name="built"))
    assert response.status_code == 201


@pytest.mark.django_db
def test_renaming_onto_another_pipeline_is_400(world):
    second = post(world.clients["owner"], "/api/v1/pipelines/", new_body(world.pipeline.project_id)).json()
    response = post(world.clients["owner"], f"/api/v1/pipelines/{second['id']}/", {"name": "app"}, "patch")
    assert "already has a pipeline named" in errors(response)["name"][0]


@pytest.mark.django_db
def test_a_foreign_credential_is_no_such_credential(world):
    for credential in (world.credentials["member"].pk, world.credentials["staff"].pk, 10**12):
        body = new_body(world.pipeline.project_id, credential=credential)
        assert "no such credential" in errors(post(world.clients["owner"], "/api/v1/pipelines/", body))["credential"][0]
    # Staff too: credentials are personal.
    body = new_body(world.pipeline.project_id, credential=world.credentials["owner"].pk)
    assert "no such credential" in errors(post(world.clients["staff"], "/api/v1/pipelines/", body))["credential"][0]
    assert errors(post(world.clients["owner"], "/api/v1/pipelines/", new_body(1, credential="x")))["credential"]


@pytest.mark.django_db
def test_keeping_another_owners_credential_is_allowed_but_not_taking_it(world):
    """An owner edits a pipeline that uses a co-owner's credential: PUT of what GET gave keeps it."""
    pipeline = world.pipeline
    pipeline.credential = world.credentials["staff"]
    pipeline.save()
    client = world.clients["owner"]
    current = client.get(f"/api/v1/pipelines/{pipeline.pk}/").json()
    body = {k: v for k, v in current.items() if k in ("project", "name", "repository_url", "provider", "credential")}
    body["trigger_tag"] = False
    response = post(client, f"/api/v1/pipelines/{pipeline.pk}/", body, "put")
    assert response.status_code == 200, response.content
    assert response.json()["credential"] == world.credentials["staff"].pk
    other = post(client, "/api/v1/pipelines/", new_body(pipeline.project_id, credential=world.credentials["staff"].pk))
    assert "no such credential" in errors(other)["credential"][0]


@pytest.mark.django_db
def test_credential_must_match_the_provider_and_the_url_its_provider(world, django_user_model):
    owner = world.users["owner"]
    github = SourceCodeCredential.objects.create(user=owner, provider="github", login="o", access_token=TOKEN)
    body = new_body(world.pipeline.project_id, credential=github.pk)
    assert (
        "this credential is for github"
        in errors(post(world.clients["owner"], "/api/v1/pipelines/", body))["credential"][0]
    )
    body = new_body(
        world.pipeline.project_id,
        provider="github",
        credential=github.pk,
        repository_url="https://github.com/only-owner",
    )
    assert "owner/name" in errors(post(world.clients["owner"], "/api/v1/pipelines/", body))["repository_url"][0]
    body["repository_url"] = "https://github.com/team/app.git"
    assert post(world.clients["owner"], "/api/v1/pipelines/", body).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "may not be blank"),
        ("https://user:hunter2@git.example.com/a/b.git", "contains a password or token"),
        ("ext::sh -c touch% /tmp/pwned", "spaces or control characters"),
        ("ext::sh", "is not a repository URL"),
        ("-uhelp", "is not a repository URL"),
        ("ftp://git.example.com/a.git", "unsupported URL scheme"),
        ("https:///a.git", "has no host"),
        ("relative/path", "expected a clone URL"),
        ("/srv/git/app", "only be set by staff"),
        ("file:///srv/git/app", "only be set by staff"),
        ("https://git.example.com/" + "a" * 500, "no more than 500"),
    ],
)
def test_repository_url_validation(world, url, message):
    body = new_body(world.pipeline.project_id, repository_url=url)
    found = errors(post(world.clients["owner"], "/api/v1/pipelines/", body))["repository_url"][0]
    assert message in found
    assert "hunter2" not in found


@pytest.mark.django_db
def test_staff_may_use_local_paths_and_owners_keep_them(world, make_repo):
    path = str(make_repo(PIPELINE).path)
    response = post(
        world.clients["staff"], "/api/v1/pipelines/", new_body(world.pipeline.project_id, repository_url=path)
    )
    assert response.status_code == 201, response.content
    pipeline_id = response.json()["id"]
    # The project's owner edits it without touching the URL, or sending it back unchanged.
    body = {"trigger_push": False, "repository_url": path}
    assert post(world.clients["owner"], f"/api/v1/pipelines/{pipeline_id}/", body, "patch").status_code == 200
    body = {"repository_url": path + "-other"}
    assert (
        "only be set by staff"
        in errors(post(world.clients["owner"], f"/api/v1/pipelines/{pipeline_id}/", body, "patch"))["repository_url"][0]
    )


@pytest.mark.django_db
def test_put_keeps_what_it_does_not_mention(world):
    client, path = world.clients["owner"], f"/api/v1/pipelines/{world.pipeline.pk}/"
    post(client, path, {"default_branch": "develop", "schedules": [{"cron": "0 1 * * *"}]}, "patch")
    data = post(client, path, new_body(world.pipeline.project_id, name="app", trigger_tag=False), "put").json()
    assert (data["default_branch"], data["trigger_tag"], len(data["schedules"])) == ("develop", False, 1)


@pytest.mark.django_db
def test_a_pipeline_cannot_move_between_projects(world):
    body = {"project": world.other.project_id}
    response = post(world.clients["staff"], f"/api/v1/pipelines/{world.pipeline.pk}/", body, "patch")
    assert "cannot move" in errors(response)["project"][0]


@pytest.mark.django_db
def test_bad_types_and_forms_are_400_or_415(world):
    client = world.clients["owner"]
    path = "/api/v1/pipelines/"
    assert errors(post(client, path, new_body(world.pipeline.project_id, default_branch="a..b")))["default_branch"]
    assert errors(post(client, path, new_body(world.pipeline.project_id, trigger_push="maybe")))["trigger_push"]
    assert errors(post(client, path, new_body(world.pipeline.project_id, provider="svn")))["provider"]
    assert errors(post(client, path, new_body("x")))["project"]
    assert errors(post(client, path, new_body(2**64)))["project"]
    assert errors(post(client, path, new_body(world.pipeline.project_id, schedules="0 * * * *")))
    assert errors(post(client, path, {"name": "x\x00y", "project": 1, "repository_url": NETWORK_URL}))["name"]
    response = client.post(path, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"]
    response = client.post(path, data={"name": "x"}, format="multipart")
    assert response.status_code == 415 and response.json()["detail"]


