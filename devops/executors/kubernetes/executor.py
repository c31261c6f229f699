"""The Kubernetes executor: one pod per execution in the project's ``<project>-pipeline`` namespace.

``launch`` creates the pod (idempotent: a second launch finds it); the sync (``sync.py``) reports
back; ``abort`` and ``cleanup`` store what the pod printed before deleting it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devops.executors.base import Executor
from devops.executors.environment import SecretBook, strip_credentials
from devops.logs import SecretMasker, get_log_store
from devops.models import Cluster, Pipeline, PipelineExecution, Project, StepRun
from devops.ops.metrics import count_api_error
from devops.pipeline_config import PipelineSpec
from devops.scm.access import git_auth
from devops.selectors import project_settings
from devops.states import State

from . import names
from .cluster import api_client
from .pod import PodIdentity, build_pod
from .provision import provision
from .sync import PodSync
from .variables import pod_variables

# Provisioning is idempotent but costs ~10 API calls: once per project and process within this time;
# the periodic reconcile (maintenance) repairs drift in between.
PROVISION_TTL_SECONDS = 300.0
_provisioned: dict[tuple[int, int], float] = {}

# How many nodes the pipeline remembers (newest first); the pod prefers cache-node-count of them.
REMEMBERED_NODES = 20


def record_node(pipeline_id: int, node: str) -> None:
    """The pipeline's execution scheduled info: the nodes recent executions ran on, newest first."""
    pipeline = Pipeline.objects.only("scheduled_nodes").get(pk=pipeline_id)
    nodes = [node, *[n for n in pipeline.scheduled_nodes or [] if n != node]][:REMEMBERED_NODES]
    Pipeline.objects.filter(pk=pipeline_id).update(scheduled_nodes=nodes)


def masked_values(execution: PipelineExecution) -> set[str]:
    return SecretBook.for_execution(execution, extra=git_auth(execution.pipeline).secret_forms()).values


class KubernetesExecutor(Executor):
    name = "kubernetes"

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self._api: client.ApiClient | None = None

    @property
    def api(self) -> client.ApiClient:
        if self._api is None:
            self._api = api_client(self.cluster)
        return self._api

    def prepare(self, project: Project) -> None:
        key = (self.cluster.pk, project.pk)
        if time.monotonic() - _provisioned.get(key, -PROVISION_TTL_SECONDS) < PROVISION_TTL_SECONDS:
            return
        provision(self.api, project, registry_image="registry:2")
        _provisioned[key] = time.monotonic()

    def launch(self, execution: PipelineExecution) -> None:
        pipeline, project = execution.pipeline, execution.project
        settings = project_settings(project)
        namespace = names.namespace(project.name)
        self._apply_git_secret(execution, namespace)
        variables = pod_variables(execution, settings)
        skipped = frozenset(
            StepRun.objects.filter(execution=execution, state=State.SKIPPED).values_list("stage_index", "index")
        )
        identity = PodIdentity(
            project=project.name,
            pipeline=pipeline.name,
            execution_id=execution.execution_id,
            run=execution.run,
            repository_url=strip_credentials(execution.repository_url),
            commit=execution.commit,
            branch=execution.branch,
            event=execution.event,
            skipped=skipped,
        )
        manifest = build_pod(PipelineSpec.from_dict(execution.config), identity, variables=variables,
                             settings=settings, recent_nodes=list(pipeline.scheduled_nodes or []))  # fmt: skip
        try:
            client.CoreV1Api(self.api).create_namespaced_pod(namespace, manifest)
        except ApiException as exc:
            count_api_error("create_pod", exc)
            if exc.status != 409:  # a repeated launch finds its pod
                raise

    def _apply_git_secret(self, execution: PipelineExecution, namespace: str) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in git_auth(execution.pipeline).env().items()}
        name = names.git_secret(execution.pipeline.name)
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
                "metadata": {"name": name, "namespace": namespace}}  # fmt: skip
        core = client.CoreV1Api(self.api)
        try:
            core.create_namespaced_secret(namespace, body)
        except ApiException as exc:
            count_api_error("create_secret", exc)
            if exc.status != 409:
                raise
            core.replace_namespaced_secret(name, namespace, body)

    def sync(self, executions: Iterable[PipelineExecution]) -> PodSync:
        sync = PodSync(self.api, store=get_log_store(), secrets_for=masked_values, on_node=record_node)
        sync.tick(executions)
        return sync

    def poll(self, executions: list[PipelineExecution]) -> dict:
        self.sync(executions)
        return {}

    def _pod(self, execution: PipelineExecution) -> dict | None:
        core = client.CoreV1Api(self.api)
        namespace = names.namespace(execution.project.name)
        try:
            pod = core.read_namespaced_pod(names.pod_name(execution.pipeline.name, execution.run), namespace)
        except ApiException as exc:
            count_api_error("read_pod", exc)
            if exc.status == 404:
                return None
            raise
        return core.api_client.sanitize_for_serialization(pod)

    def read_running_log(self, execution: PipelineExecution, stage_index: int, step_index: int) -> bytes | None:
        """The pod log API is the live buffer. Masked without flushing: a secret still being printed
        stays held back, so every read is a prefix of the stored log."""
        pod = self._pod(execution)
        if pod is None:
            return b""
        sync = PodSync(self.api, store=get_log_store())
        raw = sync.read_container_log(pod, names.container_name(stage_index, step_index))
        return SecretMasker(masked_values(execution)).feed(raw)

    def abort(self, execution: PipelineExecution) -> None:
        """Keep what the steps printed, then delete the pod (its containers stop with it)."""
        pod = self._pod(execution)
        if pod is None:
            return
        sync = PodSync(self.api, store=get_log_store(), secrets_for=masked_values)
        sync.store_all_logs(execution, pod)
        sync.delete(pod)

    def cleanup(self, execution: PipelineExecution) -> None:
        self.abort(execution)
