"""deploy/helm/devops/values.schema.json: Helm checks the values against it whenever it renders (install,
upgrade, template, lint), so a mistyped key or a wrong type fails with the key's path instead of being
silently ignored. Rendered here through Helm's Go SDK, which does exactly that (HelmValuesError)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml
from deploy_support import CHART_DIR, NAMESPACE, RELEASE, production_values, render

SCHEMA_PATH = CHART_DIR / "values.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def _objects(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    """Every object schema with declared properties, anywhere in ``node``."""
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((where, node))
        for key, child in node.items():
            found.extend(_objects(child, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found.extend(_objects(child, f"{where}/{i}"))
    return found


def test_the_schema_is_draft_07_and_closed_wherever_the_chart_owns_the_keys(schema) -> None:
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    objects = _objects(schema)
    assert len(objects) >= 20
    for where, node in objects:
        assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
    assert schema["properties"]["extraEnv"]["additionalProperties"] is False  # names checked by pattern


@pytest.mark.parametrize("values", ["default", "production"])
def test_the_shipped_values_validate(schema, values: str) -> None:
    """With the jsonschema package (the file alone), and through Helm (merged over values.yaml)."""
    given = production_values() if values == "production" else yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(given)
    assert render(given)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"web": {"replica": 3}}, "at '/web': additional properties 'replica' not allowed"),
        ({"web": {"replicas": "3"}}, "at '/web/replicas': got string, want integer"),
        ({"web": {"replicas": 1}}, "at '/web/replicas': minimum: got 1, want 2"),
        ({"beat": {"replicas": 2}}, "at '/beat': additional properties 'replicas' not allowed"),
        ({"ingres": {"enabled": True}}, "at '': additional properties 'ingres' not allowed"),
        ({"worker": {"queues": ["engin"]}}, "at '/worker/queues/0': value must be one of 'engine', 'hooks'"),
        ({"worker": {"concurrency": 0}}, "at '/worker/concurrency': minimum: got 0, want 1"),
        ({"config": {"logLevel": "info"}}, "at '/config/logLevel': value must be one of 'DEBUG', 'INFO'"),
        ({"runner": {"enabled": "false"}}, "at '/runner/enabled': got string, want boolean"),
        ({"web": {"resources": {"limit": {"memory": "1Gi"}}}}, "at '/web/resources': additional properties 'limit'"),
        ({"postgresql": {"persistence": {"size": "8 GB"}}}, "at '/postgresql/persistence/size': 'oneOf' failed"),
        ({"extraEnv": {"LOG-LEVEL": "1"}}, "at '/extraEnv': additional properties 'LOG-LEVEL' not allowed"),
        ({"externalS3": {"endpoint": "s3.example.com"}}, "at '/externalS3/endpoint': 'oneOf' failed"),
    ],
)
def test_a_mistyped_key_or_a_wrong_value_fails_the_render_naming_it(values: dict, message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        render(values)


def test_every_value_the_templates_read_is_declared_and_every_declared_one_has_a_default(schema) -> None:
    """A template reading an undeclared key could never be set; a declared key missing from values.yaml
    is a knob nobody can find (values.yaml documents them all)."""
    used = set()
    for template in (CHART_DIR / "templates").iterdir():
        used |= set(re.findall(r"\.Values((?:\.\w+)+)", template.read_text()))
    assert len(used) >= 80
    for path in sorted(used):
        node = schema
        for key in path.strip(".").split("."):
            node = _resolve(schema, node)
            assert key in node.get("properties", {}), f".Values{path}: {key!r} is not in values.schema.json"
            node = node["properties"][key]

    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    def walk(node: dict[str, Any], values: dict[str, Any], where: str) -> None:
        for key, child in node.get("properties", {}).items():
            if where == "" and key == "global":  # Helm's, for parent charts
                continue
            assert key in values, f"{where}.{key} is declared but has no default in values.yaml"
            if "$ref" not in child and "properties" in child:  # shared definitions may hold optional keys
                walk(child, values[key], f"{where}.{key}")

    walk(schema, defaults, "")


def test_the_worker_queues_the_schema_allows_are_the_apps_minus_runner(schema) -> None:
    from config.celery import app

    allowed = schema["properties"]["worker"]["properties"]["queues"]["items"]["enum"]
    assert set(allowed) == {queue.name for queue in app.conf.task_queues} - {"runner"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"web": {"replicas": 1}}, "web.replicas must be at least 2"),
        ({"worker": {"queues": ["engine", "runner"]}}, "worker.queues must not contain runner"),
    ],
)
def test_the_templates_keep_their_own_guards_without_the_schema(tmp_path: Path, values: dict, message: str) -> None:
    """`helm install --skip-schema-validation` (or a chart copy without the file) still refuses them."""
    chart = tmp_path / "devops"
    shutil.copytree(CHART_DIR, chart)
    (chart / "values.schema.json").unlink()
    with pytest.raises(helm_python.HelmRenderError, match=re.escape(message)):
        helm_python.Chart.load(chart).render(values, name=RELEASE, namespace=NAMESPACE, revision=1, is_install=True)
