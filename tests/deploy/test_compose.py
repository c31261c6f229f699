"""docker-compose.yml, read as the Compose file it is (no Docker engine runs here): the full stack, a
healthcheck on every long-running service, start order on health, state in named volumes."""

from __future__ import annotations

import re
from typing import Any

import environ
import pytest
import yaml
from deploy_support import BASE_DIR, containers, render

COMPOSE = BASE_DIR / "docker-compose.yml"
STACK = {"postgres", "redis", "minio", "registry", "web", "worker", "beat"}
STATEFUL = {"postgres": "/var/lib/postgresql/data", "redis": "/data", "minio": "/data", "registry": "/var/lib/registry"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<: *app) resolved as Compose does


def one_shot(service: dict[str, Any]) -> bool:
    """Runs to completion (e.g. minio-init creating the bucket) rather than serving."""
    return service.get("restart") == "no"


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR:-default} and ${VAR:?message} for the variables given."""

    def value(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        assert op == ":-", f"{name} must be set: {rest}"
        return rest

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", value, text)


def test_the_full_stack_with_a_healthcheck_on_every_long_running_service(compose) -> None:
    services = compose["services"]
    assert set(services) >= STACK
    for name, service in services.items():
        if one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, f"{name}: no healthcheck"
        assert not check.get("disable"), name
    assert {n for n, s in services.items() if one_shot(s)} == {"minio-init"}


def test_start_order_waits_for_health(compose) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions only waits for a start"
        for target, rule in depends.items():
            wanted = "service_completed_successfully" if one_shot(services[target]) else "service_healthy"
            assert rule == {"condition": wanted}, f"{name} -> {target}: {rule}"
    # Workers and beat start on a migrated schema: web migrates before gunicorn answers its healthcheck.
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"] == {"condition": "service_healthy"}
    assert "manage.py migrate --noinput &&" in services["web"]["command"][-1]


def test_state_lives_in_declared_named_volumes(compose) -> None:
    declared = set(compose["volumes"])
    mounts: dict[str, dict[str, str]] = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source, target = volume.split(":")[:2]
            assert source in declared, f"{name}: {source} is a bind mount or an undeclared volume"
            mounts.setdefault(name, {})[target] = source
    for name, path in STATEFUL.items():
        assert path in mounts.get(name, {}), f"{name} keeps {path} in no named volume"
    assert mounts["worker"]["/var/lib/devops"] == mounts["web"]["/var/lib/devops"] == "devops-data"
    assert declared == {source for m in mounts.values() for source in m.values()}  # none declared in vain


def test_one_worker_consumes_every_queue(compose) -> None:
    from config.celery import app

    command = compose["services"]["worker"]["command"]
    assert command[:4] == ["celery", "-A", "config", "worker"]
    assert set(command[command.index("-Q") + 1].split(",")) == {q.name for q in app.conf.task_queues}


def test_worker_and_beat_checks_are_the_ones_the_chart_uses(compose) -> None:
    from django.core.management import load_command_class

    worker = compose["services"]["worker"]["healthcheck"]["test"]
    assert worker[:4] == ["CMD", "python", "manage.py", "workerprobe"]
    options = load_command_class("devops", "workerprobe").create_parser("manage.py", "workerprobe")
    assert options.parse_args(worker[4:]).max_age == 60.0
    chart = dict(containers(render()))
    assert chart["Deployment/ci-devops-worker/worker"]["livenessProbe"]["exec"]["command"] == worker[1:]
    beat = compose["services"]["beat"]["healthcheck"]["test"]
    assert beat == ["CMD", "python", "manage.py", "beatprobe"]  # BEAT_PROBE_MAX_AGE decides the age
    assert chart["Deployment/ci-devops-beat/beat"]["livenessProbe"]["exec"]["command"] == beat[1:]
    # The configured scheduler (CELERY_BEAT_SCHEDULER) is the one that writes the heartbeat.
    assert compose["services"]["beat"]["command"] == ["celery", "-A", "config", "beat", "-l", "info"]


def test_the_web_healthcheck_gets_200_from_healthz(compose, client, settings) -> None:
    """It asks http://127.0.0.1:8000/healthz with Host: localhost, which ALLOWED_HOSTS always allows,
    whatever the operator puts in .env."""
    web = compose["services"]["web"]["healthcheck"]["test"]
    assert web[:3] == ["CMD", "python", "-c"]
    match = re.search(r"Request\('http://127\.0\.0\.1:8000(/\w+)', headers=\{'Host': '([^']+)'\}\)", web[3])
    assert match, web[3]
    path, host = match.groups()
    compile(web[3], "healthcheck", "exec")
    raw = compose["x-environment"]["ALLOWED_HOSTS"]
    for env in ({}, {"ALLOWED_HOSTS": "ci.example.com"}):
        settings.ALLOWED_HOSTS = environ.Env.parse_value(interpolate(raw, env), list)
        assert client.get(path, HTTP_HOST=host).status_code == 200, settings.ALLOWED_HOSTS
    settings.ALLOWED_HOSTS = ["ci.example.com"]  # without the fixed localhost entry
    assert client.get(path, HTTP_HOST=host).status_code == 400
