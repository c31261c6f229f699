"""``commit_file`` of every provider with an API, against its fake over real HTTP.

Each fake really commits in the backing git repository, so every assertion reads the result back with
git: the file's bytes at the returned commit, the branch's head, the parent, the author and message.
Refusals (a file changed since the edit started, an account without push rights) must leave the
branch where it was and never carry the token in their message.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devops.scm.base import ProviderError, ScmProvider
from devops.scm.registry import get_provider
from devops.testing.fake_scm import FakeRepo, FakeScm, FakeUser


@dataclass(frozen=True)
class Case:
    provider: str
    repo_name: str  # the provider's name for the repository (what repo_path answers)


CASES = [
    Case("github", "octo/app"),
    Case("gitea", "octo/app"),
    Case("gitlab", "group/sub/app"),
    Case("bitbucket", "team/app"),
    Case("bitbucket-server", "PROJ/app"),
]
IDS = [case.provider for case in CASES]
FIRST = "stages:\n- name: build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: echo one}\n"
SECOND = "stages:\n- name: build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: echo two ü}\n"


def git_bytes(path: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, check=True).stdout


def git_text(path: Path, *args: str) -> str:
    return git_bytes(path, *args).decode().strip()


@dataclass
class Setup:
    fake: FakeScm
    provider: ScmProvider
    repo: FakeRepo
    git: Any  # the make_repo repository (its path and first commit)
    writer: FakeUser
    reader: FakeUser
    name: str

    @property
    def path(self) -> Path:
        return self.repo.path

    def head(self, branch: str = "main") -> str:
        return git_text(self.path, "rev-parse", f"refs/heads/{branch}")

    def show(self, sha: str, file: str) -> str:
        return git_bytes(self.path, "show", f"{sha}:{file}").decode("utf-8")

    def commit(self, user: FakeUser, file: str, content: str, message: str = "Update pipeline file",
               **kwargs: Any) -> str:
        return self.provider.commit_file(user.token, self.name, file, kwargs.pop("branch", "main"), content,
                                         message, **kwargs)


@pytest.fixture(params=CASES, ids=IDS)
def setup(request: pytest.FixtureRequest, start_fake: Callable[[str], FakeScm],
          make_repo: Callable[..., Any]) -> Setup:
    """A private repository whose ``.devops.yml`` reads FIRST; ``writer`` may push (not an admin),
    ``reader`` may only read; ``admin`` administers it."""
    case: Case = request.param
    fake = start_fake(case.provider)
    writer, reader = fake.add_user("writer"), fake.add_user("reader")
    fake.add_user("admin")
    git_repo = make_repo(FIRST)
    repo = fake.add_repo(case.repo_name, git_repo.path, admins={"admin"}, writers={"writer"}, readers={"reader"},
                         private=True)
    return Setup(fake, get_provider(case.provider, fake.url), repo, git_repo, writer, reader, case.repo_name)


def test_a_new_file_is_committed_on_the_branch_by_a_writer(setup: Setup) -> None:
    before = setup.head()
    on_disk = (setup.path / ".devops.yml").read_text()

    sha = setup.commit(setup.writer, "ci/extra.yml", SECOND, "Add the extra pipeline")

    assert sha == setup.head() != before
    assert setup.show(sha, "ci/extra.yml") == SECOND
    assert setup.show(sha, ".devops.yml") == FIRST  # the rest of the tree is kept
    assert git_text(setup.path, "rev-parse", f"{sha}^") == before
    assert git_text(setup.path, "log", "-1", "--format=%s|%an", sha) == "Add the extra pipeline|Writer"
    # The commit went through the API, not a checkout: the working tree is as it was.
    assert (setup.path / ".devops.yml").read_text() == on_disk
    assert not (setup.path / "ci" / "extra.yml").exists()


def test_an_existing_file_is_replaced_in_one_commit(setup: Setup) -> None:
    before = setup.head()

    sha = setup.commit(setup.writer, ".devops.yml", SECOND)

    assert sha == setup.head()
    assert setup.show(sha, ".devops.yml") == SECOND
    assert git_text(setup.path, "rev-parse", f"{sha}^") == before
    assert git_text(setup.path, "diff", "--name-only", before, sha) == ".devops.yml"
    # Saving again from the new state works (the provider reads the file's current version).
    again = setup.commit(setup.writer, ".devops.yml", FIRST, base_commit=sha)
    assert setup.show(again, ".devops.yml") == FIRST
    assert git_text(setup.path, "rev-parse", f"{again}^") == sha


def test_an_edit_from_a_stale_commit_is_refused_and_nothing_is_overwritten(setup: Setup) -> None:
    first = setup.head()
    theirs = setup.commit(setup.writer, ".devops.yml", SECOND, "Someone else's change")

    exc = pytest.raises(
        ProviderError, setup.commit, setup.writer, ".devops.yml", "stages: []\n", base_commit=first
    ).value

    assert exc.status == 409
    assert "changed since it was read" in str(exc) and ".devops.yml" in str(exc)
    assert setup.writer.token not in str(exc)
    assert setup.head() == theirs
    assert setup.show(theirs, ".devops.yml") == SECOND


def test_an_account_without_push_rights_is_refused(setup: Setup) -> None:
    before = setup.head()

    exc = pytest.raises(ProviderError, setup.commit, setup.reader, ".devops.yml", SECOND).value

    assert exc.status == 403
    assert "may not push" in str(exc) and setup.name in str(exc)
    assert setup.reader.token not in str(exc)
    assert setup.head() == before


def test_another_branch_is_committed_to_and_main_stays(setup: Setup) -> None:
    main = setup.head()
    git_bytes(setup.path, "branch", "release/1", main)

    sha = setup.commit(setup.writer, ".devops.yml", SECOND, branch="release/1")

    assert setup.head("release/1") == sha
    assert setup.head() == main
    assert setup.show(sha, ".devops.yml") == SECOND


def test_a_path_outside_the_repository_is_refused_before_any_call(setup: Setup) -> None:
    before = len(setup.fake.requests)
    for path in ("../escape.yml", "a//b.yml", "", "ci/./x.yml"):
        exc = pytest.raises(ProviderError, setup.commit, setup.writer, path, SECOND).value
        assert "is not a file path" in str(exc)
    assert len(setup.fake.requests) == before
    assert setup.head() == setup.git.head()


def test_a_provider_without_an_api_cannot_commit() -> None:
    exc = pytest.raises(ProviderError, get_provider("git").commit_file, "t", "o/r", ".devops.yml", "main", "x", "m")
    assert str(exc.value) == "git cannot commit files"


# --- what each fake checks, sent the way the real APIs are (the providers never send these) -------------
def test_github_refuses_an_update_without_the_blob_sha_and_with_a_wrong_one(start_fake: Any, make_repo: Any) -> None:
    import requests

    fake = start_fake("github")
    user = fake.add_user("writer")
    fake.add_repo("octo/app", make_repo(FIRST).path, writers={"writer"})
    url = f"{fake.url}/api/v3/repos/octo/app/contents/.devops.yml"
    headers = {"Authorization": f"Bearer {user.token}"}
    body = {"message": "m", "content": "eA==", "branch": "main"}

    missing = requests.put(url, json=body, headers=headers, timeout=10)
    wrong = requests.put(url, json={**body, "sha": "0" * 40}, headers=headers, timeout=10)

    assert missing.status_code == 422 and '"sha" wasn\'t supplied' in missing.json()["message"]
    assert wrong.status_code == 409


def test_bitbucket_server_form_posts_need_the_xsrf_header(start_fake: Any, make_repo: Any) -> None:
    import requests

    fake = start_fake("bitbucket-server")
    user = fake.add_user("writer")
    repo = fake.add_repo("PROJ/app", make_repo(FIRST).path, writers={"writer"})
    head = repo.head("main")
    answer = requests.put(
        f"{fake.url}/rest/api/1.0/projects/PROJ/repos/app/browse/new.yml",
        files={"content": ("new.yml", b"x")}, data={"branch": "main", "message": "m"},
        headers={"Authorization": f"Bearer {user.token}"}, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 403 and answer.text == "XSRF check failed"
    assert repo.head("main") == head
