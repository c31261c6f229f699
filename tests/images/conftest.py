"""A real registry (Debian's docker-registry) on loopback for image publishing tests."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The host:port of a running registry: the one LOCAL_REGISTRY names, so the worker pushes to it."""
    if shutil.which("docker-registry") is None or shutil.which("buildah") is None:
        pytest.skip("needs Debian's buildah and docker-registry (make test installs them)")
    address = settings.LOCAL_REGISTRY
    root = tmp_path_factory.mktemp("registry")
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: {address}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"docker-registry did not start on {address}")
            time.sleep(0.1)
    yield address
    proc.terminate()
    proc.wait(timeout=10)
