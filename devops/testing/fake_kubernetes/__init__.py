"""A fake Kubernetes API server over HTTP, driven by the unmodified ``kubernetes`` client (no cluster needed).

    from devops.testing.fake_kubernetes import FakeKubernetes
    with FakeKubernetes() as server:
        api = kubernetes.client.CoreV1Api(server.api_client())
"""

from .errors import ApiError
from .resources import IMAGE_PULL_JOB, ResourceType
from .server import FakeKubernetes
from .store import Event, Store

__all__ = ["IMAGE_PULL_JOB", "ApiError", "Event", "FakeKubernetes", "ResourceType", "Store"]
