"""``save_pipeline_file``: an edited pipeline file parsed, then committed as the editing user through
the provider's API (fake providers over real HTTP, real git repositories behind them)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from devops.config_commits import CannotSave, save_pipeline_file
from devops.models import Pipeline, PipelineExecution
from devops.models.scm import SourceCodeCredential
from devops.pipeline_config import PipelineConfigError
from devops.testing.fake_scm import FakeRepo, FakeScm

pytestmark = pytest.mark.django_db

VALID = "stages:\n- name: build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: echo saved ü}\n"
BROKEN = "stages:\n- name: build\n  steps:\n  - bogus: 1\n"
# provider -> (the fake's repository name, the clone URL path the pipeline holds)
LAYOUT = {
    "github": ("octo/app", "octo/app.git"),
    "gitea": ("octo/app", "octo/app.git"),
    "gitlab": ("group/sub/app", "group/sub/app.git"),
    "bitbucket": ("team/app", "team/app.git"),
    "bitbucket-server": ("PROJ/app", "scm/proj/app.git"),
}


def git_text(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, check=True, text=True).stdout


@pytest.fixture
def fakes() -> Iterator[Callable[[str], FakeScm]]:
    started: list[FakeScm] = []

    def start(provider: str) -> FakeScm:
        started.append(FakeScm(provider).start())
        return started[-1]

    yield start
    for fake in started:
        fake.stop()


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(username=name, password="unused-password")


def credential_for(user: Any, fake: FakeScm, login: str, host: str | None = None) -> SourceCodeCredential:
    return SourceCodeCredential.objects.create(
        user=user, provider=fake.provider, host=fake.url if host is None else host, login=login,
        access_token=fake.users[login].token,
    )  # fmt: skip


class World:
    """A fake provider with a repository (``writer`` may push, ``reader`` may not, ``admin`` owns it) and
    a pipeline on it whose stored credential is the admin's."""

    def __init__(self, fake: FakeScm, make_repo: Callable[..., Any], make_pipeline: Callable[..., Any],
                 pipeline_yaml: str | None = "stages: []\n", files: dict[str, str] | None = None,
                 default_branch: str = "main") -> None:
        self.fake = fake
        name, clone_path = LAYOUT[fake.provider]
        self.admin, self.writer, self.reader = (fake.add_user(login) for login in ("admin", "writer", "reader"))
        self.git = make_repo(pipeline_yaml, files=files)
        if default_branch != "main":
            git_text(self.git.path, "branch", default_branch)
        self.repo: FakeRepo = fake.add_repo(name, self.git.path, admins={"admin"}, writers={"writer"},
                                            readers={"reader"}, private=True)
        owner = make_user(f"owner-{fake.provider}")
        admin_credential = credential_for(owner, fake, "admin")
        pipeline = make_pipeline(f"{fake.url}/{clone_path}")
        Pipeline.objects.filter(pk=pipeline.pk).update(
            provider=fake.provider, credential=admin_credential, default_branch=default_branch
        )
        self.pipeline = Pipeline.objects.select_related("credential").get(pk=pipeline.pk)

    def user_with_account(self, login: str, **kwargs: Any) -> Any:
        user = make_user(f"{login}-{self.fake.provider}-user")
        credential_for(user, self.fake, login, **kwargs)
        return user

    def head(self, branch: str = "main") -> str:
        return git_text(self.git.path, "rev-parse", f"refs/heads/{branch}").strip()

    def show(self, sha: str, file: str) -> str:
        return git_text(self.git.path, "show", f"{sha}:{file}")

    def author(self, sha: str) -> str:
        return git_text(self.git.path, "log", "-1", "--format=%an|%s", sha).strip()


@pytest.fixture
def world(fakes: Callable[[str], FakeScm], make_repo: Any, make_pipeline: Any) -> Callable[..., World]:
    return lambda provider="github", **kwargs: World(fakes(provider), make_repo, make_pipeline, **kwargs)


@pytest.mark.parametrize("provider", list(LAYOUT))
def test_the_file_is_committed_on_the_default_branch_as_the_editing_user(world: Any, provider: str) -> None:
    w: World = world(provider, default_branch="develop")
    main = w.head("main")
    user = w.user_with_account("writer")

    sha = save_pipeline_file(w.pipeline, user, VALID, "Edit the pipeline in the web editor")

    assert sha == w.head("develop") != main
    assert w.head("main") == main  # only the pipeline's default branch moves
    assert w.show(sha, ".devops.yml") == VALID
    # The user's own account made the commit, not the pipeline's (the admin's) credential.
    assert w.author(sha) == "Writer|Edit the pipeline in the web editor"
    assert git_text(w.git.path, "rev-parse", f"{sha}^").strip() == main


def test_the_name_the_repository_already_uses_is_kept(world: Any) -> None:
    w: World = world(pipeline_yaml=None, files={".rancher-pipeline.yml": "stages: []\n", "README.md": "hi\n"})
    user = w.user_with_account("writer")

    sha = save_pipeline_file(w.pipeline, user, VALID)

    assert w.show(sha, ".rancher-pipeline.yml") == VALID
    assert git_text(w.git.path, "ls-tree", "--name-only", sha).split() == [".rancher-pipeline.yml", "README.md"]
    assert w.author(sha) == "Writer|Update pipeline file"  # the default message


def test_without_a_pipeline_file_it_becomes_devops_yml(world: Any) -> None:
    w: World = world(pipeline_yaml=None)
    sha = save_pipeline_file(w.pipeline, w.user_with_account("writer"), VALID, "  ")
    assert w.show(sha, ".devops.yml") == VALID
    assert w.author(sha) == "Writer|Update pipeline file"  # a blank message is the default one


def test_parse_errors_are_raised_unchanged_before_any_call(world: Any) -> None:
    w: World = world()
    user = w.user_with_account("writer")
    calls = len(w.fake.requests)

    with pytest.raises(PipelineConfigError) as exc:
        save_pipeline_file(w.pipeline, user, BROKEN)

    assert [(e.file, e.line, e.column) for e in exc.value.errors][0] == (".devops.yml", 4, 5)
    assert "unknown key 'bogus'" in str(exc.value)
    assert len(w.fake.requests) == calls  # nothing asked of the provider
    assert w.head() == w.git.head()


def test_parse_errors_name_the_file_the_last_execution_read(world: Any) -> None:
    w: World = world()
    PipelineExecution.objects.create(pipeline=w.pipeline, project=w.pipeline.project, run=1, config={},
                                     repository_url=w.pipeline.repository_url, config_file=".rancher-pipeline.yml")
    with pytest.raises(PipelineConfigError) as exc:
        save_pipeline_file(w.pipeline, w.user_with_account("writer"), BROKEN)
    assert {e.file for e in exc.value.errors} == {".rancher-pipeline.yml"}


def test_a_user_without_an_account_at_the_provider_cannot_save(world: Any) -> None:
    w: World = world()
    stranger = make_user("stranger")
    calls = len(w.fake.requests)

    with pytest.raises(CannotSave) as exc:
        save_pipeline_file(w.pipeline, stranger, VALID)

    # The pipeline's stored credential (the admin's) is not used for somebody else's commit.
    assert "connect your GitHub account" in exc.value.message and w.fake.url in exc.value.message
    assert isinstance(exc.value, PermissionError)
    assert len(w.fake.requests) == calls
    assert w.head() == w.git.head()


def test_an_account_on_another_host_does_not_count(world: Any) -> None:
    w: World = world()
    elsewhere = w.user_with_account("writer", host="https://github.example.com")
    with pytest.raises(CannotSave, match="connect your GitHub account"):
        save_pipeline_file(w.pipeline, elsewhere, VALID)
    assert w.head() == w.git.head()


def test_without_a_stored_credential_the_host_comes_from_the_repository_url(world: Any) -> None:
    w: World = world("gitlab")
    Pipeline.objects.filter(pk=w.pipeline.pk).update(credential=None)
    pipeline = Pipeline.objects.get(pk=w.pipeline.pk)
    user = make_user("two-accounts")
    credential_for(user, w.fake, "writer", host="")  # gitlab.com: not this repository's host
    credential_for(user, w.fake, "writer")

    sha = save_pipeline_file(pipeline, user, VALID)

    assert sha == w.head() and w.show(sha, ".devops.yml") == VALID


def test_an_account_without_push_rights_cannot_save(world: Any) -> None:
    w: World = world()
    reader = w.user_with_account("reader")

    with pytest.raises(CannotSave) as exc:
        save_pipeline_file(w.pipeline, reader, VALID)

    assert "may not push" in exc.value.message
    assert w.reader.token not in exc.value.message
    assert w.head() == w.git.head()


def test_an_anonymous_user_and_a_plain_git_pipeline_cannot_save(world: Any, make_repo: Any,
                                                              make_pipeline: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    w: World = world()
    with pytest.raises(CannotSave, match="sign in"):
        save_pipeline_file(w.pipeline, AnonymousUser(), VALID)

    plain = make_pipeline(make_repo("stages: []\n"))
    with pytest.raises(CannotSave, match="plain git"):
        save_pipeline_file(plain, w.user_with_account("writer"), VALID)


def test_the_editing_users_token_is_refreshed_first_when_it_expires(world: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from devops.models.scm import SourceCodeProviderConfig

    w: World = world()
    w.fake.oauth_clients["client-1"] = "client-secret"
    SourceCodeProviderConfig.objects.create(provider="github", host=w.fake.url, client_id="client-1",
                                            client_secret="client-secret", enabled=True)
    issued = w.fake.issue_tokens("writer")
    user = make_user("expiring")
    SourceCodeCredential.objects.create(
        user=user, provider="github", host=w.fake.url, login="writer", access_token=issued["access_token"],
        refresh_token=issued["refresh_token"], expires_at=datetime.now(UTC) + timedelta(minutes=1),
    )  # fmt: skip

    sha = save_pipeline_file(w.pipeline, user, VALID)

    assert w.show(sha, ".devops.yml") == VALID
    assert len(w.fake.calls("POST", "^/login/oauth/access_token$")) == 1
    stored = SourceCodeCredential.objects.get(user=user)
    assert stored.access_token == w.fake.users["writer"].token != issued["access_token"]
