"""publishImageConfig on the local executor: a real buildah build pushed to a real registry."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import urllib.request

import pytest

from devops.models import RegistryCredential
from devops.states import State
from devops.triggers import trigger_pipeline

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PIPELINE = """
stages:
  - name: Publish
    steps:
      - publishImageConfig:
          dockerfilePath: ./docker/Dockerfile
          buildContext: .
          tag: team/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}
  - name: Deploy
    steps:
      - runScriptConfig:
          image: busybox
          shellScript: echo "deploying $CICD_IMAGE from $CICD_REGISTRY repo $CICD_IMAGE_REPO"
"""

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def test_image_is_built_pushed_and_announced_to_later_steps(registry, worker, make_repo, make_pipeline, h):
    repo = make_repo(
        PIPELINE,
        files={"docker/Dockerfile": "FROM scratch\nCOPY greeting.txt /srv/greeting.txt\n", "greeting.txt": "hi\n"},
    )
    pipeline = make_pipeline(repo)
    execution = trigger_pipeline(pipeline, branch="main")
    execution = h.wait_final(execution.pk, timeout=120)
    assert execution.state == State.SUCCESS, h.describe(execution.pk)

    tag = f"main-{execution.commit[:7]}"
    tags = json.loads(_get(f"http://{registry}/v2/team/app/tags/list"))["tags"]
    assert tag in tags
    # The pushed image really holds the file the Dockerfile copied.
    manifest = json.loads(_get(f"http://{registry}/v2/team/app/manifests/{tag}", MANIFEST_TYPES))
    layers = [layer["digest"] for layer in manifest["layers"]]
    contents = {}
    for digest in layers:
        blob = _get(f"http://{registry}/v2/team/app/blobs/{digest}")
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    contents[member.name.lstrip("./")] = tar.extractfile(member).read()
    assert contents.get("srv/greeting.txt") == b"hi\n"

    deploy = h.steps_of(execution.pk)["script-1"]
    log = h.stored_log(deploy)
    assert f"deploying {registry}/team/app:{tag} from {registry} repo team/app" in log


def test_push_to_a_remote_registry_without_credentials_fails_with_a_reason(
    registry, worker, make_repo, make_pipeline, h
):
    repo = make_repo(
        """
stages:
  - name: Publish
    steps:
      - publishImageConfig:
          tag: registry.example.com/team/app:1
          pushRemote: true
          registry: registry.example.com
""",
        files={"Dockerfile": "FROM scratch\n"},
    )
    pipeline = make_pipeline(repo)
    RegistryCredential.objects.create(
        project=pipeline.project, registry="other.example.com", username="u", password="s3cr3t-value"
    )
    execution = h.wait_final(trigger_pipeline(pipeline, branch="main").pk, timeout=60)
    assert execution.state == State.FAILED
    assert "no registry credential for registry.example.com" in execution.reason
