"""Warm a freshly pushed image on nodes with an OpenKruise ``ImagePullJob`` (publishImageConfig.preload).

Best effort by design: the push already succeeded, so a cluster without OpenKruise (or an API error)
costs only the warm-up. The step's log says what happened either way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kubernetes import client, dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from devops.ops.metrics import count_api_error
from devops.pipeline_config import Step

from . import names

API_VERSION = "apps.kruise.io/v1alpha1"
KIND = "ImagePullJob"


def image_pull_job(step: Step, image: str, *, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    preload = step.config.preload
    assert preload is not None
    selector: dict[str, Any] = {}
    if preload.nodes:
        selector = {"names": list(preload.nodes)}
    elif preload.selector:
        selector = {"matchLabels": dict(preload.selector)}
    spec: dict[str, Any] = {
        "image": image,
        "parallelism": preload.parallelism or 10,
        "pullSecrets": [names.REGISTRY_SECRET],
        "pullPolicy": {"backoffLimit": 3, "timeoutSeconds": 300},
        "completionPolicy": {"type": "Always", "activeDeadlineSeconds": 1800, "ttlSecondsAfterFinished": 600},
    }
    if selector:
        spec["selector"] = selector
    digest = hashlib.sha256(image.encode()).hexdigest()[:10]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": names.dns_label(f"preload-{digest}"), "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def create_preload(api: client.ApiClient, manifest: dict[str, Any], *, cache_file: str | None = None) -> str:
    """Create the job; returns a line for the step log."""
    image = manifest["spec"]["image"]
    missing = (f"preload of {image} skipped: the cluster has no {KIND} ({API_VERSION}); "
               "install OpenKruise to warm images on nodes")  # fmt: skip
    try:
        resources = dynamic.DynamicClient(api, cache_file=cache_file).resources
        jobs = resources.get(api_version=API_VERSION, kind=KIND)
    except ResourceNotFoundError:
        return missing
    try:
        jobs.create(body=manifest, namespace=manifest["metadata"]["namespace"])
    except ApiException as exc:
        count_api_error("create_imagepulljob", exc)
        if exc.status == 404:  # discovery was cached before the CRD went away
            return missing
        if exc.status != 409:
            return f"preload of {image} failed: the API answered {exc.status} {exc.reason}"
    return f"preload of {image}: {KIND} {manifest['metadata']['name']} created"
