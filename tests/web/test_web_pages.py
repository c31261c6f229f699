"""The sign-in, dashboard, project, pipeline and add-pipeline pages through Django's test client.

Access follows the API: anonymous visitors go to /login/, outsiders get 404, viewers read, members
also run, owners also add pipelines and manage settings (tests/web/test_web_pages_settings.py). The
Run button runs the real trigger (git, pipeline file, engine) on a repository made with git.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from devops.models import (
    Pipeline,
    PipelineExecution,
    Project,
    ProjectMember,
    SourceCodeCredential,
    SourceCodeProviderConfig,
    SourceCodeRepository,
)
from devops.testing.fake_scm import FakeScm

PIPELINE = "stages:\n  - name: build\n    steps:\n      - runScriptConfig: {image: busybox, shellScript: echo hi}\n"
ROLES = ["owner", "member", "viewer", "staff", "outsider"]
PASSWORD = "correct horse battery"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    """A project with one pipeline and a user per role; the outsider owns a project of their own."""
    repo = make_repo(PIPELINE)
    pipeline = make_pipeline(repo)
    other = make_pipeline(make_repo(PIPELINE), name="elsewhere")
    tag = h.unique_name("u")
    users, clients = {}, {}
    for role in ROLES:
        users[role] = django_user_model.objects.create_user(
            f"{role}-{tag}", password=PASSWORD, is_staff=role == "staff"
        )
        clients[role] = client_for(users[role])
        if role in ("owner", "member", "viewer"):
            ProjectMember.objects.create(project=pipeline.project, user=users[role], role=role)
    ProjectMember.objects.create(project=other.project, user=users["outsider"], role="owner")
    return type(
        "World",
        (),
        {"pipeline": pipeline, "project": pipeline.project, "other": other, "repo": repo, "users": users,
         "clients": clients},
    )  # fmt: skip


def html(response) -> str:
    return response.content.decode()


def pages(world) -> dict[str, str]:
    p = world.project.pk
    return {
        "project": f"/projects/{p}/",
        "pipeline": f"/pipelines/{world.pipeline.pk}/",
        "add": f"/projects/{p}/pipelines/add/",
        "settings": f"/projects/{p}/settings/",
    }


# --- access ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login_page(world):
    anonymous = Client()
    for path in ["/", *pages(world).values()]:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/?next="), path
    response = anonymous.post(f"/pipelines/{world.pipeline.pk}/run/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not PipelineExecution.objects.exists()


EXPECTED = {
    # page: statuses for owner, member, viewer, staff, outsider
    "project": (200, 200, 200, 200, 404),
    "pipeline": (200, 200, 200, 200, 404),
    "add": (200, 403, 403, 200, 404),
    "settings": (200, 403, 403, 200, 404),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(EXPECTED))
def test_each_page_answers_by_role(world, page):
    path = pages(world)[page]
    for role, expected in zip(ROLES, EXPECTED[page], strict=True):
        response = world.clients[role].get(path)
        assert response.status_code == expected, (role, path)
        if expected == 403:
            assert "needs the owner role" in html(response)
        if expected == 200:
            assert 'name="viewport"' in html(response) and "Sign out" in html(response)


@pytest.mark.django_db
def test_malformed_and_missing_ids_are_404(world):
    client = world.clients["staff"]
    for path in ["/projects/abc/", "/projects/99999999999/", "/pipelines/1.5/", "/pipelines/0/",
                 "/projects/99999999999999999999999/settings/", "/pipelines/%C2%B2/"]:  # fmt: skip
        assert client.get(path).status_code == 404, path


@pytest.mark.django_db
def test_buttons_follow_the_role(world):
    """Viewers see no Run button; only owners see Add pipeline and Settings."""
    run_action = f'action="/pipelines/{world.pipeline.pk}/run/"'
    settings_link = f'href="/projects/{world.project.pk}/settings/"'
    for role in ("owner", "member", "viewer", "staff"):
        client = world.clients[role]
        for path in ("/", f"/projects/{world.project.pk}/", f"/pipelines/{world.pipeline.pk}/"):
            body = html(client.get(path))
            assert (run_action in body) == (role != "viewer"), (role, path)
        dashboard = html(client.get("/"))
        assert (settings_link in dashboard) == (role in ("owner", "staff")), role
        assert world.pipeline.repository_url in dashboard
    outsider = html(world.clients["outsider"].get("/"))
    assert world.project.name not in outsider and world.other.project.name in outsider


# --- sign in -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_provider_buttons_only_for_enabled_providers(world):
    body = html(Client().get("/login/"))
    assert "/auth/login/" not in body and 'name="password"' in body
    SourceCodeProviderConfig.objects.create(provider="github", client_id="gh-id", client_secret="s", enabled=True)
    SourceCodeProviderConfig.objects.create(provider="gitlab", client_id="gl-id", client_secret="s", enabled=False)
    SourceCodeProviderConfig.objects.create(provider="bitbucket", client_id="", enabled=True)  # no client id
    body = html(Client().get("/login/"))
    assert 'action="/auth/login/github/"' in body and "Sign in with GitHub" in body
    assert "/auth/login/gitlab/" not in body and "/auth/login/bitbucket-oauth2/" not in body
    form = re.search(r'<form method="post" action="/auth/login/github/".*?</form>', body, re.S).group(0)
    assert "csrfmiddlewaretoken" in form
    assert "gh-id" not in body
    SourceCodeProviderConfig.objects.filter(provider="gitlab").update(enabled=True)
    SourceCodeProviderConfig.objects.filter(provider="bitbucket").update(client_id="bb-id")
    body = html(Client().get("/login/"))
    assert "/auth/login/gitlab/" in body and "/auth/login/bitbucket-oauth2/" in body


@pytest.mark.django_db
def test_password_sign_in_and_sign_out(world):
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/login/?next=/pipelines/{world.pipeline.pk}/")
    token = page.cookies["csrftoken"].value
    user = world.users["member"]
    wrong = client.post("/login/", {"username": user.username, "password": "nope", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and "errorlist" in html(wrong)
    response = client.post(
        "/login/",
        {"username": user.username, "password": PASSWORD, "next": f"/pipelines/{world.pipeline.pk}/",
         "csrfmiddlewaretoken": token},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"/pipelines/{world.pipeline.pk}/"
    assert client.get("/").status_code == 200
    assert client.get("/login/").status_code == 302  # already signed in
    assert client.get("/logout/").status_code == 405  # POST only
    token = client.cookies["csrftoken"].value
    out = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/login/"
    assert client.get("/").status_code == 302


# --- run ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["member", "owner", "staff"])
def test_run_creates_an_execution_and_opens_it(world, role):
    response = world.clients[role].post(f"/pipelines/{world.pipeline.pk}/run/", {"branch": "main", "next": "/"})
    execution = PipelineExecution.objects.get(pipeline=world.pipeline)
    assert response.status_code == 302 and response["Location"] == f"/executions/{execution.pk}/"
    assert execution.triggered_by == world.users[role]
    assert execution.branch == "main" and execution.commit == world.repo.head()
    listing = html(world.clients["viewer"].get(f"/pipelines/{world.pipeline.pk}/"))
    assert f'href="/executions/{execution.pk}/"' in listing and "state-Queueing" in listing
    assert world.repo.head()[:7] in listing and "initial commit" in listing


@pytest.mark.django_db
def test_run_refused_for_viewers_and_outsiders(world):
    assert world.clients["viewer"].post(f"/pipelines/{world.pipeline.pk}/run/").status_code == 403
    assert world.clients["outsider"].post(f"/pipelines/{world.pipeline.pk}/run/").status_code == 404
    assert world.clients["member"].get(f"/pipelines/{world.pipeline.pk}/run/").status_code == 405
    assert not PipelineExecution.objects.exists()


@pytest.mark.django_db
def test_a_refused_run_shows_the_reason(world, make_repo, make_pipeline):
    client = world.clients["member"]
    response = client.post(
        f"/pipelines/{world.pipeline.pk}/run/", {"branch": "no-such-branch", "next": "/"}, follow=True
    )
    assert response.redirect_chain[0][0] == "/"
    assert "Cannot run app" in html(response) and "no-such-branch" in html(response)
    response = client.post(f"/pipelines/{world.pipeline.pk}/run/", {"branch": "-x"}, follow=True)
    assert response.redirect_chain[0][0] == f"/pipelines/{world.pipeline.pk}/"
    assert "Cannot run app" in html(response)
    bare = make_pipeline(make_repo(None), name="bare", project=world.project.name)
    response = client.post(f"/pipelines/{bare.pk}/run/", {"branch": ""}, follow=True)
    assert "no pipeline file" in html(response)
    broken = make_pipeline(make_repo("stages: 5\n"), name="broken", project=world.project.name)
    response = client.post(f"/pipelines/{broken.pk}/run/", follow=True)
    assert "the pipeline file has errors" in html(response)
    assert not PipelineExecution.objects.exists()


@pytest.mark.django_db
def test_executions_are_paged(world, trigger):
    for _ in range(27):
        trigger(world.pipeline, branch="main")
    body = html(world.clients["viewer"].get(f"/pipelines/{world.pipeline.pk}/"))
    assert body.count('data-label="Run"') == 25 and "#27" in body and "page 1 of 2" in body
    older = html(world.clients["viewer"].get(f"/pipelines/{world.pipeline.pk}/?page=2"))
    assert older.count('data-label="Run"') == 2 and "#1<" in older
    recent = html(world.clients["viewer"].get(f"/projects/{world.project.pk}/"))
    assert "Recent executions" in recent and "#27" in recent


# --- empty states and a new project ------------------------------------------------------------------
@pytest.mark.django_db
def test_a_user_without_projects_creates_one_and_owns_it(django_user_model, h):
    user = django_user_model.objects.create_user(h.unique_name("new"))
    client = client_for(user)
    body = html(client.get("/"))
    assert "You are not in any project yet" in body and 'action="/projects/new/"' in body
    bad = client.post("/projects/new/", {"name": "Not A Label"}, follow=True)
    assert "Project name:" in html(bad) and not Project.objects.filter(members__user=user).exists()
    name = h.unique_name("shop")
    response = client.post("/projects/new/", {"name": name, "display_name": "Shop"})
    project = Project.objects.get(name=name)
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert ProjectMember.objects.get(project=project, user=user).role == "owner"
    page = html(client.get(f"/projects/{project.pk}/"))
    assert "No pipelines yet" in page and f"/projects/{project.pk}/pipelines/add/" in page
    assert "Nothing has run yet" in page
    again = client.post("/projects/new/", {"name": name}, follow=True)
    assert "already exists" in html(again)
    add = html(client.get(f"/projects/{project.pk}/pipelines/add/"))
    assert "Sign in with your Git provider to pick a repository, or enter a URL" in add


# --- add a pipeline ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_add_a_pipeline_from_a_typed_url(world):
    client = world.clients["owner"]
    add = f"/projects/{world.project.pk}/pipelines/add/"
    response = client.post(add, {"repository": "url", "url": "https://git.example.com/team/tool.git",
                                 "trigger_push": "on", "poll": "on"})  # fmt: skip
    pipeline = Pipeline.objects.get(project=world.project, name="tool")
    assert response.status_code == 302 and response["Location"] == f"/pipelines/{pipeline.pk}/"
    assert pipeline.provider == "git" and pipeline.credential is None and pipeline.default_branch == "main"
    assert (pipeline.trigger_push, pipeline.trigger_pull_request, pipeline.trigger_tag, pipeline.poll) == (
        True, False, False, True)  # fmt: skip
    page = html(client.get(f"/pipelines/{pipeline.pk}/"))
    assert f"/hooks/pipelines/{pipeline.pk}/" in page and pipeline.webhook_secret not in page

    # Refusals re-render the form with the reason, and nothing is created.
    for body, message in [
        ({"repository": "url", "url": ""}, "pick one of your repositories or enter a clone URL"),
        ({"repository": "url", "url": "https://u:pw@git.example.com/a.git"}, "contains a password"),
        ({"repository": "url", "url": "/srv/git/app"}, "only be set by staff"),
        ({"repository": "url", "url": "https://git.example.com/x/tool.git"}, "already has a pipeline named"),
        ({"repository": "url", "url": "https://git.example.com/x/y.git", "name": "a b"}, "name"),
        ({"repository": "12345678", "url": ""}, "not in your synced list"),
    ]:
        refused = client.post(add, body)
        assert refused.status_code == 400, body
        assert message in html(refused), (body, html(refused)[-3000:])
    assert Pipeline.objects.filter(project=world.project).count() == 2
    assert world.clients["member"].post(add, {"url": "https://git.example.com/a/b.git"}).status_code == 403


@pytest.mark.django_db
def test_add_a_pipeline_from_a_synced_repository_row(world):
    owner = world.users["owner"]
    credential = SourceCodeCredential.objects.create(
        user=owner, provider="github", login="octo", access_token="gho_token-never-shown"
    )
    row = SourceCodeRepository.objects.create(
        credential=credential, url="https://github.com/octo/api", clone_url="https://github.com/octo/api.git",
        default_branch="trunk", permissions={"admin": True},
    )  # fmt: skip
    someone_elses = SourceCodeRepository.objects.create(
        credential=SourceCodeCredential.objects.create(user=world.users["staff"], provider="github", login="x"),
        url="https://github.com/x/secret-repo",
        clone_url="https://github.com/x/secret-repo.git",
    )
    client = world.clients["owner"]
    add = f"/projects/{world.project.pk}/pipelines/add/"
    page = html(client.get(add))
    assert "https://github.com/octo/api" in page and "secret-repo" not in page and "gho_token" not in page
    assert "Refresh repositories" in page
    assert "octo/api" not in html(client.get(add + "?q=nothing-matches"))
    assert client.post(add, {"repository": str(someone_elses.pk)}).status_code == 400

    response = client.post(add, {"repository": str(row.pk), "trigger_push": "on", "trigger_tag": "on"})
    pipeline = Pipeline.objects.get(project=world.project, name="api")
    assert response.status_code == 302 and response["Location"] == f"/pipelines/{pipeline.pk}/"
    assert pipeline.provider == "github" and pipeline.credential == credential
    assert pipeline.repository_url == "https://github.com/octo/api.git" and pipeline.default_branch == "trunk"
    assert (pipeline.trigger_push, pipeline.trigger_pull_request, pipeline.trigger_tag) == (True, False, True)
    shown = html(client.get(f"/pipelines/{pipeline.pk}/"))
    assert "octo (github)" in shown and "gho_token" not in shown


@pytest.fixture
def github():
    fake = FakeScm("github").start()
    yield fake
    fake.stop()


@pytest.mark.django_db
def test_refresh_repositories_lists_what_the_user_administers(world, github, make_repo):
    octo = github.add_user("octo")
    path = make_repo(PIPELINE).path
    github.add_repo("octo/api", path, admins={"octo"})
    github.add_repo("team/docs", path, admins={"someone"}, readers={"octo"})
    SourceCodeCredential.objects.create(
        user=world.users["owner"], provider="github", host=github.url, login="octo", access_token=octo.token
    )
    client = world.clients["owner"]
    add = f"/projects/{world.project.pk}/pipelines/add/"
    assert "No repositories synced yet" in html(client.get(add))
    response = client.post(add + "refresh/", follow=True)
    body = html(response)
    assert response.redirect_chain[-1][0] == add
    assert "1 repositories you administer are listed" in body
    assert f"{github.url}/octo/api" in body and "team/docs" not in body and octo.token not in body
    assert world.clients["viewer"].post(add + "refresh/").status_code == 403


@pytest.mark.django_db
def test_pages_read_in_a_fixed_number_of_queries(
    world, trigger, make_repo, make_pipeline, django_assert_max_num_queries
):
    """More pipelines and executions do not mean more queries (no query per row)."""
    client = world.clients["member"]
    paths = ["/", f"/projects/{world.project.pk}/", f"/pipelines/{world.pipeline.pk}/"]

    def counts() -> list[int]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        out = []
        for path in paths:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200
            out.append(len(queries))
        return out

    trigger(world.pipeline, branch="main")
    before = counts()
    for name in ("second", "third"):
        make_pipeline(make_repo(PIPELINE), name=name, project=world.project.name)
    for _ in range(4):
        trigger(world.pipeline, branch="main")
    assert counts() == before
    with django_assert_max_num_queries(12):
        client.get("/")
