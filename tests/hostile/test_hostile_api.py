"""Hostile pipeline files through the API and the web editor: ``validate/`` and the editor's parse
answer 200 ``valid: false`` with each error's line and column, ``run/`` with such a ``config`` answers
400 with ``config_errors`` and creates nothing; text the API's fields refuse (a raw NUL, an unpaired
surrogate) and requests too large to read are a 4xx with a message; never a 500. Branch names are in
test_hostile_refs*.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from devops.models import PipelineExecution, ProjectMember

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024
STEP = "      - runScriptConfig: {image: busybox, shellScript: 'true'}\n"
HEAD = "stages:\n  - name: s\n    steps:\n" + STEP
LAUGHS = "".join(f"E{i}: &e{i} [" + ", ".join([f"*e{i - 1}" if i else "lol"] * 10) + "], " for i in range(9)).rstrip(
    ", "
)

# name -> (config text, the errors as [line, column, message])
FILES = {
    "deep": ("stages: " + "[" * 100_000, [[1, 58, "the document is nested more than 50 levels deep"]]),
    "bomb": (
        HEAD + f"        env: {{{LAUGHS}}}\n",
        [[1, 1, "the document expands to more than 10000 nodes through anchors and aliases"]],
    ),
    "recursive": ("stages: &a [*a]\n", [[1, 9, "an alias refers to a node that contains it (recursive alias)"]]),
    "fanout": (
        HEAD.replace("'true'", '&big "' + "x" * 900_000 + '"')
        + "        env: {"
        + ", ".join(f"E{i}: *big" for i in range(10))
        + "}\n",
        [[1, 1, "the document expands to more than 4194304 characters through anchors and aliases"]],
    ),
    "nul-escape": (
        HEAD + '        env: {A: "x\\0y"}\n',
        [[5, 18, "a value holds a NUL character (\\0), which pipeline values cannot contain"]],
    ),
    "raw-nul": (
        HEAD + "        env: {A: x\0y}\n",
        [[5, 19, "invalid YAML: unacceptable character #x0000: control characters are not allowed"]],
    ),
    "surrogate": (
        HEAD.replace("'true'", "'echo \ud800'"),
        [[4, 62, "the text holds an unpaired surrogate (U+D800), which is not a character"]],
    ),
    "object-tag": (
        "stages: !!python/object/apply:os.system ['true']\n",
        [[1, 9, "unsupported YAML tag '!!python/object/apply:os.system'; pipeline files use plain YAML values"]],
    ),
}


# Refused by the API's text fields before any parsing (Django REST framework's own validators).
REFUSED_BY_THE_FIELD = {
    "raw-nul": "Null characters are not allowed.",
    "surrogate": "Surrogate characters are not allowed: U+D800.",
}


@pytest.fixture
def world(make_repo, make_pipeline, django_user_model, h):
    pipeline = make_pipeline(make_repo(HEAD))
    user = django_user_model.objects.create_user(h.unique_name("member"))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="member")
    client = APIClient()
    client.force_authenticate(user)
    client.force_login(user)  # the web editor's views use the session
    return pipeline, client


def post(client: APIClient, path: str, body: dict):
    # json.dumps keeps an unpaired surrogate as the escape "\ud800", as any JSON client would send it.
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("name", FILES)
def test_validate_answers_each_hostile_file_with_its_positions(world, name):
    _pipeline, client = world
    text, errors = FILES[name]
    answer = post(client, "/api/v1/pipelines/validate/", {"config": text})
    if name in REFUSED_BY_THE_FIELD:
        assert (answer.status_code, answer.json()["errors"]) == (400, {"config": [REFUSED_BY_THE_FIELD[name]]})
        return
    assert answer.status_code == 200, answer.content[:2000]
    body = answer.json()
    assert body["valid"] is False and body["stages"] is None
    assert [[e["line"], e["column"], e["message"]] for e in body["errors"]] == errors
    assert all(e["file"] == ".devops.yml" for e in body["errors"])


@pytest.mark.parametrize("name", FILES)
def test_run_with_a_hostile_config_is_refused_and_creates_nothing(world, name):
    pipeline, client = world
    text, errors = FILES[name]
    answer = post(client, f"/api/v1/pipelines/{pipeline.pk}/run/", {"config": text})
    assert answer.status_code == 400, answer.content[:2000]
    if name in REFUSED_BY_THE_FIELD:
        assert answer.json()["errors"] == {"config": [REFUSED_BY_THE_FIELD[name]]}
        return
    assert [[e["line"], e["column"], e["message"]] for e in answer.json()["config_errors"]] == errors
    assert not PipelineExecution.objects.exists()


def test_a_config_over_the_cap_is_refused_by_the_field(world):
    pipeline, client = world
    text = "stages: []\n" + "#" * MiB
    for path in ("/api/v1/pipelines/validate/", f"/api/v1/pipelines/{pipeline.pk}/run/"):
        answer = post(client, path, {"config": text})
        assert answer.status_code == 400, (path, answer.content[:500])
        assert answer.json()["errors"] == {"config": ["Ensure this field has no more than 1048576 characters."]}
    assert not PipelineExecution.objects.exists()


@pytest.mark.parametrize("size", [3 * MiB, 20 * MiB])
def test_a_request_too_large_to_read_is_a_400(world, size):
    """Past Django's request limit (2.5 MB) the body is never read: Django's own 400, not a 500."""
    pipeline, client = world
    text = "stages: []\n" + "#" * size
    for path in ("/api/v1/pipelines/validate/", f"/api/v1/pipelines/{pipeline.pk}/run/"):
        assert post(client, path, {"config": text}).status_code == 400, path
    assert not PipelineExecution.objects.exists()


@pytest.mark.parametrize("name", FILES)
def test_the_editors_parse_answers_each_hostile_file_with_its_positions(world, name):
    """The web editor reads the JSON body itself (no field validators): even a raw NUL or an unpaired
    surrogate must come back as an error with its position."""
    pipeline, client = world
    text, errors = FILES[name]
    answer = post(client, f"/pipelines/{pipeline.pk}/edit/parse.json", {"yaml": text})
    assert answer.status_code == 200, answer.content[:2000]
    body = answer.json()
    assert body["valid"] is False and body["model"] is None
    assert [[e["line"], e["column"], e["message"]] for e in body["errors"]] == errors
