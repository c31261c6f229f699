"""The Helm chart (deploy/helm/devops), rendered by Helm's Go SDK with the default values (everything
bundled, for trying it out) and with values-production.yaml (external services, existing Secrets,
ingress): schema-valid for every Kubernetes version we support, and shaped as operators rely on."""

from __future__ import annotations

import re

import environ
import helm_python
import kubernetes_validate
import pytest
from deploy_support import (
    CHART_DIR,
    K8S_VERSIONS,
    NAMESPACE,
    RELEASE,
    SECRET_VARIABLES,
    containers,
    env_of,
    objects,
    one,
    pod_spec,
    production_values,
    queues_of,
    render,
    render_files,
)

APP = f"{RELEASE}-devops"
VALUE_SETS = {"default": lambda: {}, "production": production_values}


@pytest.fixture(scope="module")
def default_docs() -> list[dict]:
    return render()


@pytest.fixture(scope="module")
def production_docs() -> list[dict]:
    return render(production_values())


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_rendered_object_validates_strictly(values: str, version: str) -> None:
    docs = render(VALUE_SETS[values]())
    assert len(docs) >= 8
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {exc}") from None


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_helm_lint_strict_finds_nothing(values: str) -> None:
    for version in K8S_VERSIONS:
        report = helm_python.lint(str(CHART_DIR), VALUE_SETS[values](), strict=True, kube_version=f"v{version}.0")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"] and not problems, report


def test_bundled_and_external_installs_have_the_expected_objects(default_docs, production_docs) -> None:
    assert set(objects(default_docs, "StatefulSet")) == {f"{APP}-postgresql", f"{APP}-redis", f"{APP}-minio"}
    assert objects(production_docs, "StatefulSet") == {}
    assert set(objects(default_docs, "Deployment")) == {f"{APP}-{c}" for c in ("web", "worker", "runner", "beat")}
    assert set(objects(production_docs, "Deployment")) == {f"{APP}-{c}" for c in ("web", "worker", "beat")}
    assert objects(default_docs, "Ingress") == {}
    ingress = one(production_docs, "Ingress", APP)
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["ci.example.com"]
    assert ingress["spec"]["tls"] == [{"secretName": "devops-tls", "hosts": ["ci.example.com"]}]


def test_web_runs_two_or_more_gunicorn_replicas(default_docs, production_docs) -> None:
    for docs, wanted in ((default_docs, 2), (production_docs, 3)):
        web = one(docs, "Deployment", f"{APP}-web")
        assert web["spec"]["replicas"] == wanted >= 2
        assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        (container,) = pod_spec(web)["containers"]
        assert "exec gunicorn config.wsgi:application" in container["args"][-1]
    pdb = one(default_docs, "PodDisruptionBudget", f"{APP}-web")
    assert pdb["spec"]["minAvailable"] == 1
    # values.schema.json refuses fewer (the template's own guard: tests/deploy/test_values_schema.py).
    with pytest.raises(helm_python.HelmValuesError, match=re.escape("at '/web/replicas': minimum: got 1, want 2")):
        render({"web": {"replicas": 1}})


def test_exactly_one_beat_replaced_with_recreate(default_docs) -> None:
    beat = one(default_docs, "Deployment", f"{APP}-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = pod_spec(beat)["containers"]
    assert container["args"][:4] == ["celery", "-A", "config", "beat"]
    # The configured scheduler (CELERY_BEAT_SCHEDULER) writes the heartbeat the probes read.
    assert "--scheduler" not in container["args"] and "-S" not in container["args"]
    # No value can make it two: the values schema has no beat.replicas (a set one fails the install).
    with pytest.raises(helm_python.HelmValuesError, match=re.escape("at '/beat': additional properties 'replicas'")):
        render({"beat": {"replicas": 3}})
    beats = [name for name, c in containers(default_docs) if "beat" in (c.get("args") or [])]
    assert beats == [f"Deployment/{APP}-beat/beat"]


def test_migrations_job_per_revision_and_everyone_waits_for_it(default_docs) -> None:
    job = one(default_docs, "Job", f"{APP}-migrate-1")
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["python", "manage.py", "migrate", "--noinput"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    # A Job's pod template is immutable: an upgrade (revision 7) brings a Job of its own.
    assert set(objects(render(revision=7), "Job")) == {f"{APP}-migrate-7"}
    for name in ("web", "worker", "runner", "beat"):
        spec = pod_spec(one(default_docs, "Deployment", f"{APP}-{name}"))
        (init,) = spec["initContainers"]
        assert init["name"] == "wait-for-migrations" and "manage.py migrate --check" in init["args"][-1]
        assert init["image"] == spec["containers"][0]["image"]  # the schema of this image


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_container_has_liveness_and_readiness_probes(values: str) -> None:
    docs = render(VALUE_SETS[values]())
    long_running = [(n, c) for n, c in containers(docs) if not n.startswith("Job/")]
    assert len(long_running) >= (7 if values == "default" else 3)
    for name, container in long_running:
        assert container.get("livenessProbe"), f"{name} has no liveness probe"
        assert container.get("readinessProbe"), f"{name} has no readiness probe"
    web = dict(containers(docs))[f"Deployment/{APP}-web/web"]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for name, container in containers(docs):
        if queues_of(container) is not None:  # Celery workers: the heartbeat probe, given time to start Python
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert container[probe]["exec"]["command"][:3] == ["python", "manage.py", "workerprobe"], name
                assert container[probe]["timeoutSeconds"] >= 10, name
    beat = dict(containers(docs))[f"Deployment/{APP}-beat/beat"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):  # a hung scheduler loop is restarted
        assert beat[probe]["exec"]["command"] == ["python", "manage.py", "beatprobe"]
        assert beat[probe]["timeoutSeconds"] >= 10
    # Init containers run to completion: the API server refuses probes on them.
    for name, container in containers(docs, init=True):
        assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container), name


def test_the_image_entrypoint_stays_pid_1(default_docs) -> None:
    """tini (docker/Dockerfile ENTRYPOINT) reaps orphans, e.g. of the local runners' steps; a container
    `command` would replace it."""
    dockerfile = (CHART_DIR.parents[2] / "docker" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in dockerfile
    ours = [(n, c) for n, c in [*containers(default_docs), *containers(default_docs, init=True)]
            if c["image"].startswith("devops:")]  # fmt: skip
    assert len(ours) == 9  # web, worker, runner, beat, migrate and four wait-for-migrations
    for name, container in ours:
        assert "command" not in container and container["args"], name


def test_probe_and_wait_commands_parse_with_the_real_management_commands(default_docs) -> None:
    from django.core.management import load_command_class

    worker = dict(containers(default_docs))[f"Deployment/{APP}-worker/worker"]
    argv = worker["livenessProbe"]["exec"]["command"]
    options = load_command_class("devops", "workerprobe").create_parser("manage.py", argv[2]).parse_args(argv[3:])
    assert options.max_age == 60.0 and options.hostname is None
    beat = dict(containers(default_docs))[f"Deployment/{APP}-beat/beat"]
    argv = beat["livenessProbe"]["exec"]["command"]
    options = load_command_class("devops", "beatprobe").create_parser("manage.py", argv[2]).parse_args(argv[3:])
    assert options.max_age is None  # BEAT_PROBE_MAX_AGE from the environment decides (extraEnv)
    migrate = load_command_class("django.core", "migrate").create_parser("manage.py", "migrate")
    assert migrate.parse_args(["--check"]).check_unapplied is True
    assert migrate.parse_args(["--noinput"]).interactive is False


def test_runner_less_worker_and_runner_queues(default_docs, production_docs) -> None:
    from config.celery import app

    all_queues = {queue.name for queue in app.conf.task_queues}
    assert all_queues == {"engine", "runner", "hooks", "maintenance"}
    for docs in (default_docs, production_docs):
        worker = dict(containers(docs))[f"Deployment/{APP}-worker/worker"]
        assert queues_of(worker) == ["engine", "hooks", "maintenance"]
    consumed = {name: queues_of(c) for name, c in containers(default_docs) if queues_of(c)}
    assert consumed[f"Deployment/{APP}-runner/runner"] == ["runner"]
    assert set().union(*consumed.values()) == all_queues  # every queue has a consumer
    # The Kubernetes-only install: nothing consumes the local runner queue; everything else is consumed.
    consumed = {name: queues_of(c) for name, c in containers(production_docs) if queues_of(c)}
    assert set().union(*consumed.values()) == all_queues - {"runner"}
    with pytest.raises(helm_python.HelmValuesError, match=re.escape("at '/worker/queues/1': value must be one of")):
        render({"worker": {"queues": ["engine", "runner"]}})


def test_production_references_secrets_and_inlines_none(production_docs) -> None:
    values = production_values()
    assert objects(production_docs, "Secret") == {}
    expected = {
        "SECRET_KEY": ("devops-keys", "SECRET_KEY"),
        "FERNET_KEYS": ("devops-keys", "FERNET_KEYS"),
        "METRICS_TOKEN": ("devops-keys", "METRICS_TOKEN"),
        "DATABASE_URL": (values["externalDatabase"]["existingSecret"], "DATABASE_URL"),
        "CELERY_BROKER_URL": ("devops-redis", "CELERY_BROKER_URL"),
        "LIVE_LOG": ("devops-redis", "LIVE_LOG"),
        "S3_ACCESS_KEY": ("devops-s3", "S3_ACCESS_KEY"),
        "S3_SECRET_KEY": ("devops-s3", "S3_SECRET_KEY"),
    }
    assert set(expected) == SECRET_VARIABLES
    app_containers = [(n, c) for n, c in [*containers(production_docs), *containers(production_docs, init=True)]
                      if c["image"].startswith(values["image"]["repository"])]  # fmt: skip
    assert len(app_containers) == 7  # web, worker, beat, migrate + 3 wait-for-migrations
    for name, container in app_containers:
        env = env_of(container)
        for variable, (secret, key) in expected.items():
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret, key), f"{name}: {variable}"
            assert "value" not in env[variable]
    config = one(production_docs, "ConfigMap", APP)["data"]
    assert not SECRET_VARIABLES & set(config)
    assert config["S3_ENDPOINT_URL"] == "https://s3.eu-west-1.amazonaws.com" and config["S3_REGION"] == "eu-west-1"
    assert config["LOG_STORE"] == "s3://devops-logs" and config["LOG_FORMAT"] == "json"


def test_generated_secrets_never_appear_outside_their_secret(default_docs) -> None:
    import base64

    secret = one(default_docs, "Secret", APP)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert set(data) == {"SECRET_KEY", "FERNET_KEYS", "POSTGRES_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY"}
    from cryptography.fernet import Fernet

    Fernet(data["FERNET_KEYS"])  # a usable key, not just random text
    others = str([doc for doc in default_docs if doc["kind"] != "Secret"])  # the same render
    for key in ("SECRET_KEY", "FERNET_KEYS", "POSTGRES_PASSWORD", "S3_SECRET_KEY"):
        assert data[key] not in others, key
    web = dict(containers(default_docs))[f"Deployment/{APP}-web/web"]
    # DATABASE_URL is composed in the pod from the Secret's password, not written out.
    assert (
        env_of(web)["DATABASE_URL"]["value"] == f"postgres://devops:$(POSTGRES_PASSWORD)@{APP}-postgresql:5432/devops"
    )
    assert env_of(web)["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": APP, "key": "POSTGRES_PASSWORD"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"postgresql": {"enabled": False}}, "externalDatabase.existingSecret is required when postgresql.enabled"),
        ({"redis": {"enabled": False}}, "externalRedis.existingSecret is required when redis.enabled is false"),
        ({"minio": {"enabled": False}, "externalS3": {"existingSecret": "s3"}}, "externalS3.endpoint is required"),
        ({"minio": {"enabled": False}, "externalS3": {"endpoint": "https://s3"}}, "externalS3.existingSecret is"),
    ],
)
def test_missing_external_settings_are_named(values: dict, message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=re.escape(message)):
        render(values)


def test_probes_reach_django_through_the_pod_ip(default_docs, client, settings) -> None:
    """Kubelet probes and Prometheus scrapes send the pod IP as Host; Django answers 400 to a host not in
    ALLOWED_HOSTS, so the chart adds the pod IP (expanded by the kubelet from the downward API)."""
    web = dict(containers(default_docs))[f"Deployment/{APP}-web/web"]
    env = env_of(web)
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert list(env).index("POD_IP") < list(env).index("ALLOWED_HOSTS")  # $(VAR) sees only earlier ones
    for pod_ip, host in (("10.42.3.17", "10.42.3.17:8000"), ("fd00:10:244::5", "[fd00:10:244::5]:8000")):
        raw = env["ALLOWED_HOSTS"]["value"].replace("$(POD_IP)", pod_ip)
        settings.ALLOWED_HOSTS = environ.Env.parse_value(raw, list)
        assert client.get("/healthz", HTTP_HOST=host).status_code == 200, raw
        assert client.get("/healthz", HTTP_HOST="devops.localhost").status_code == 200
    settings.ALLOWED_HOSTS = ["devops.localhost", "localhost"]  # what the values alone would allow
    assert client.get("/healthz", HTTP_HOST="10.42.3.17:8000").status_code == 400


def test_configuration_reaches_the_service_settings(default_docs) -> None:
    """Every variable the chart sets is one config/settings.py reads (a typo would be silently ignored)."""
    from pathlib import Path

    settings_text = (Path(__file__).resolve().parents[2] / "config" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', settings_text))
    read |= {"PROMETHEUS_MULTIPROC_DIR", "HOME", "POD_IP", "POSTGRES_PASSWORD"}  # read elsewhere, or by the pod
    config = one(default_docs, "ConfigMap", APP)["data"]
    assert set(config) <= read, set(config) - read
    for name, container in containers(default_docs):
        if container["image"].startswith("devops:"):
            assert set(env_of(container)) <= read, (name, set(env_of(container)) - read)
    extra = one(render({"extraEnv": {"LOG_RETENTION_DAYS": 30}}), "ConfigMap", APP)["data"]
    assert extra["LOG_RETENTION_DAYS"] == "30"


def test_service_account_token_only_where_the_api_is_called(default_docs) -> None:
    account = one(default_docs, "ServiceAccount", APP)
    assert account["automountServiceAccountToken"] is False
    workloads = [doc for doc in default_docs if doc["kind"] in ("Deployment", "StatefulSet", "Job")]
    mounted = {doc["metadata"]["name"] for doc in workloads if pod_spec(doc).get("automountServiceAccountToken")}
    # The local runners run pipelines' own code: never with the executor's token.
    assert mounted == {f"{APP}-web", f"{APP}-worker"}


def test_notes_tell_how_to_start(default_docs) -> None:
    notes = render_files()["devops/templates/NOTES.txt"]
    assert f"kubectl -n {NAMESPACE} exec -it deployment/{APP}-web -- python manage.py createsuperuser" in notes
    assert "WARNING: the bundled PostgreSQL, Redis, MinIO" in notes
    assert "WARNING" not in render_files(production_values())["devops/templates/NOTES.txt"]
