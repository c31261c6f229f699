"""``/api/v1/credentials/`` and ``/api/v1/repositories/``: personal objects (staff see only their own
too), tokens never in an answer, and ``repositories/refresh/`` against the fake GitHub over HTTP (a
refused token is a 502 with the provider's message, not a 500)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from devops.models import Pipeline, SourceCodeCredential, SourceCodeRepository
from devops.testing.fake_scm import FakeScm

ROLES = ["owner", "member", "viewer", "staff", "outsider"]
PIPELINE = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client: APIClient, path: str, body: dict | None = None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def github():
    fake = FakeScm("github").start()
    yield fake
    fake.stop()


@pytest.fixture
def world(github, make_repo, make_pipeline, django_user_model, h):
    """Each role's user with a GitHub credential on the fake (and a plain git one); the owner's user
    ("octo" on the fake) administers three repositories and reads a fourth."""
    from devops.models import ProjectMember

    pipeline = make_pipeline(make_repo(PIPELINE))
    path = make_repo(PIPELINE).path
    tag = h.unique_name("u")
    users, clients, creds, git_creds = {}, {}, {}, {}
    for role in ROLES:
        fake_user = github.add_user(f"{role}-login")
        users[role] = django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff")
        clients[role] = client_for(users[role])
        creds[role] = SourceCodeCredential.objects.create(
            user=users[role], provider="github", host=github.url, login=fake_user.login,
            access_token=fake_user.token, refresh_token=f"refresh-{role}-secret",
        )  # fmt: skip
        git_creds[role] = SourceCodeCredential.objects.create(
            user=users[role], provider="git", login=role, access_token=f"git-token-{role}-secret"
        )
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    for name in ("owner-login/api", "owner-login/web", "team/tools"):
        github.add_repo(name, path, admins={"owner-login"})
    github.add_repo("team/docs", path, admins={"member-login"}, readers={"owner-login"})
    return type(
        "World",
        (),
        {"users": users, "clients": clients, "creds": creds, "git_creds": git_creds, "pipeline": pipeline},
    )


def secrets_of(world) -> list[str]:
    values = []
    for cred in [*world.creds.values(), *world.git_creds.values()]:
        cred.refresh_from_db()
        values += [cred.access_token, cred.refresh_token]
    return [v for v in values if v]


def assert_no_secret(world, response) -> None:
    raw = response.content.decode()
    for value in secrets_of(world):
        assert value not in raw


# --- credentials -------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_everyone_lists_only_their_own_credentials_without_tokens(world, role):
    response = world.clients[role].get("/api/v1/credentials/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["id"] for row in rows} == {world.creds[role].pk, world.git_creds[role].pk}
    assert set(rows[0]) == {"id", "provider", "host", "login", "expires_at", "created_at"}
    assert_no_secret(world, response)
    github_only = world.clients[role].get("/api/v1/credentials/?provider=github").json()["results"]
    assert [row["id"] for row in github_only] == [world.creds[role].pk]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_own_credential_reads_and_deletes_others_are_404(world, role):
    client = world.clients[role]
    mine = client.get(f"/api/v1/credentials/{world.creds[role].pk}/")
    assert mine.status_code == 200 and mine.json()["login"] == f"{role}-login"
    assert_no_secret(world, mine)
    for other in ROLES:
        if other == role:
            continue
        theirs = world.creds[other].pk
        assert client.get(f"/api/v1/credentials/{theirs}/").status_code == 404
        assert client.delete(f"/api/v1/credentials/{theirs}/").status_code == 404
        assert SourceCodeCredential.objects.filter(pk=theirs).exists()
    assert client.delete(f"/api/v1/credentials/{world.git_creds[role].pk}/").status_code == 204
    assert not SourceCodeCredential.objects.filter(pk=world.git_creds[role].pk).exists()


@pytest.mark.django_db
def test_deleting_a_credential_unsets_it_on_pipelines_and_drops_its_repositories(world):
    cred = world.creds["owner"]
    Pipeline.objects.filter(pk=world.pipeline.pk).update(credential=cred, provider="github")
    SourceCodeRepository.objects.create(credential=cred, url="https://x.example/a/b", clone_url="https://x.example/a/b")
    assert world.clients["owner"].delete(f"/api/v1/credentials/{cred.pk}/").status_code == 204
    assert Pipeline.objects.get(pk=world.pipeline.pk).credential_id is None
    assert not SourceCodeRepository.objects.filter(credential_id=cred.pk).exists()


@pytest.mark.django_db
def test_credentials_are_read_and_delete_only(world):
    client = world.clients["owner"]
    assert post(client, "/api/v1/credentials/", {"provider": "git", "login": "x"}).status_code == 405
    path = f"/api/v1/credentials/{world.creds['owner'].pk}/"
    assert client.patch(path, data="{}", content_type="application/json").status_code == 405
    assert client.get("/api/v1/credentials/99999999999999999999/").status_code == 404
    assert client.get("/api/v1/credentials/?provider=svn").status_code == 400
    assert APIClient().get("/api/v1/credentials/").status_code in (401, 403)


# --- repositories ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_refresh_syncs_the_administered_repositories_of_every_own_credential(world, github):
    response = post(world.clients["owner"], "/api/v1/repositories/refresh/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "repositories": 3,
        "credentials": [{"credential": world.creds["owner"].pk, "repositories": 3}],
    }
    assert_no_secret(world, response)

    listing = world.clients["owner"].get("/api/v1/repositories/")
    rows = listing.json()["results"]
    assert [row["url"] for row in rows] == sorted(
        f"{github.url}/{name}" for name in ("owner-login/api", "owner-login/web", "team/tools")
    )
    assert set(rows[0]) == {
        "id",
        "credential",
        "provider",
        "login",
        "url",
        "clone_url",
        "default_branch",
        "permissions",
    }
    assert rows[0]["provider"] == "github" and rows[0]["permissions"]["admin"] is True
    assert_no_secret(world, listing)

    # Nobody else sees them: not other users, not staff.
    for role in ("member", "viewer", "staff", "outsider"):
        assert world.clients[role].get("/api/v1/repositories/").json()["results"] == []
        assert world.clients[role].get(f"/api/v1/repositories/{rows[0]['id']}/").status_code == 404
    assert world.clients["owner"].get(f"/api/v1/repositories/{rows[0]['id']}/").status_code == 200


@pytest.mark.django_db
def test_repositories_filter_and_search(world):
    assert post(world.clients["owner"], "/api/v1/repositories/refresh/").status_code == 200
    client, cred = world.clients["owner"], world.creds["owner"].pk

    def urls(query: str) -> list[str]:
        response = client.get(f"/api/v1/repositories/?{query}")
        assert response.status_code == 200, response.content
        return [
            row["url"].rsplit("/", 2)[-2] + "/" + row["url"].rsplit("/", 1)[-1] for row in response.json()["results"]
        ]

    assert urls("search=tools") == ["team/tools"]
    assert urls("search=OWNER-login") == ["owner-login/api", "owner-login/web"]
    assert len(urls(f"credential={cred}")) == 3
    assert urls(f"credential={world.creds['member'].pk}") == []
    assert urls("provider=gitlab") == []
    assert len(urls("provider=github&ordering=-url")) == 3
    assert urls("ordering=-url")[0] == "team/tools"
    assert client.get("/api/v1/repositories/?search=a%00b").status_code == 400
    assert client.get("/api/v1/repositories/?search=" + "a" * 201).status_code == 400
    assert client.get("/api/v1/repositories/?credential=x").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_refresh_one_credential_and_refusals(world, role):
    client = world.clients[role]
    response = post(client, "/api/v1/repositories/refresh/", {"credential": world.creds[role].pk})
    assert response.status_code == 200
    expected = {"owner": 3, "member": 1}.get(role, 0)
    assert response.json()["repositories"] == expected
    for other in ROLES:
        if other != role:
            found = post(client, "/api/v1/repositories/refresh/", {"credential": world.creds[other].pk})
            assert found.status_code == 400
            assert "no such credential" in found.json()["errors"]["credential"][0]
    found = post(client, "/api/v1/repositories/refresh/", {"credential": world.git_creds[role].pk})
    assert "have no repositories to sync" in found.json()["errors"]["credential"][0]
    assert post(client, "/api/v1/repositories/refresh/", {"credential": "one"}).status_code == 400
    response = client.post("/api/v1/repositories/refresh/", data={"credential": "1"}, format="multipart")
    assert response.status_code == 415


@pytest.mark.django_db
def test_a_refused_token_is_502_with_the_providers_message_and_no_token(world, github):
    cred = world.creds["owner"]
    SourceCodeCredential.objects.filter(pk=cred.pk).update(access_token="revoked-token-abcdef")
    response = post(world.clients["owner"], "/api/v1/repositories/refresh/")
    assert response.status_code == 502, response.content
    detail = response.json()["detail"]
    assert f"credential {cred.pk} (github)" in detail
    assert "revoked-token-abcdef" not in response.content.decode()
    assert not SourceCodeRepository.objects.filter(credential=cred).exists()


@pytest.mark.django_db
def test_repositories_need_a_signed_in_user(world):
    assert APIClient().get("/api/v1/repositories/").status_code in (401, 403)
    assert post(APIClient(), "/api/v1/repositories/refresh/").status_code in (401, 403)
