"""schemathesis against the live OpenAPI schema: generated requests to every operation, as a project
owner, must never get a 500 nor a response that contradicts the schema (status, content type, body).

Bounded for ``make test``: a fixed seed and SCHEMATHESIS_EXAMPLES examples per operation (default 12).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "12")
PIPELINE = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"


@pytest.fixture
def owner_token(make_repo, make_pipeline, django_user_model):
    from rest_framework.authtoken.models import Token

    from devops.models import ProjectMember, ProjectSecret

    user = django_user_model.objects.create_user("fuzz-owner", password="pw-unused")
    pipeline = make_pipeline(make_repo(PIPELINE))
    ProjectMember.objects.create(project=pipeline.project, user=user, role="owner")
    ProjectSecret.objects.create(project=pipeline.project, name="deploy", data={"token": "fuzz-secret-value"})
    return Token.objects.create(user=user).key


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, owner_token, tmp_path: Path):
    report = tmp_path / "report.json"
    argv = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{live_server.url}/api/schema/",
        "-H", f"Authorization: Token {owner_token}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_headers_conformance,response_schema_conformance",
        "--max-examples", EXAMPLES, "--seed", "20261122", "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "30", "--no-color", "--suppress-health-check", "all", "--generation-database", "none",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-12000:]
    assert "fuzz-secret-value" not in report.read_text(errors="replace")
