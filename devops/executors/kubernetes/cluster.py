"""An API client for a ``Cluster`` record: the service's own service account, or a stored kubeconfig.

TLS verification stays whatever the kubeconfig says (on, unless the operator turned it off there).
"""

from __future__ import annotations

import yaml
from kubernetes import client, config

from devops.models import Cluster


class ClusterConfigError(Exception):
    """The cluster record cannot produce a client; the message names what is wrong, never a secret."""


def api_client(cluster: Cluster) -> client.ApiClient:
    if cluster.in_cluster:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as exc:
            raise ClusterConfigError(f"cluster {cluster.name}: not running inside a cluster ({exc})") from exc
        return client.ApiClient(configuration)
    try:
        document = yaml.safe_load(cluster.kubeconfig or "")
    except yaml.YAMLError as exc:
        raise ClusterConfigError(f"cluster {cluster.name}: the stored kubeconfig is not valid YAML") from exc
    if not isinstance(document, dict):
        raise ClusterConfigError(f"cluster {cluster.name}: no kubeconfig stored")
    try:
        return config.new_client_from_config_dict(document, persist_config=False)
    except (config.ConfigException, KeyError, TypeError) as exc:
        reason = type(exc).__name__
        raise ClusterConfigError(f"cluster {cluster.name}: the kubeconfig cannot be used ({reason})") from exc
