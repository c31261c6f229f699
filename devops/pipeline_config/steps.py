"""Reading one step: its single kind (``*Config`` key) with that kind's settings, and the common keys.

Names are assigned later by the stage reader, because a default name ("script-2") depends on the
step's position and on the explicit names of its siblings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .model import (
    ApplyAppConfig,
    ApplyYamlConfig,
    EnvFrom,
    Preload,
    PublishImageConfig,
    RunScriptConfig,
    SourceCodeConfig,
    Step,
    StepConfig,
    StepKind,
)
from .read_conditions import read_when
from .schema import Fields, Reader, parse_quantity
from .yaml_nodes import NULL, describe

KIND_KEYS: dict[str, StepKind] = {
    "sourceCodeConfig": "sourceCode",
    "runScriptConfig": "runScript",
    "publishImageConfig": "publishImage",
    "applyYamlConfig": "applyYaml",
    "applyAppConfig": "applyApp",
}
COMMON_KEYS = (
    "name",
    "env",
    "envFrom",
    "cache",
    "timeout",
    "cpuRequest",
    "cpuLimit",
    "memoryRequest",
    "memoryLimit",
    "when",
)
STEP_KEYS = (*KIND_KEYS, *COMMON_KEYS)
REJECTED_STEP_KEYS = {
    "publishCatalogConfig": "publishCatalogConfig (Rancher catalogs) is not supported; "
    "deploy a Helm chart with applyAppConfig (chart, repo, version, name, targetNamespace, values) instead",
    "privileged": "privileged steps are not supported: every step runs unprivileged "
    "(publishImageConfig builds images without privilege); remove 'privileged'",
}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_RULE = "letters, digits and '_', not starting with a digit"
STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
CPU_EXAMPLES = "500m, 1 or 2.5"
MEMORY_EXAMPLES = "256Mi, 1Gi or 512M"
_QUANTITY_KEYS = (
    ("cpuRequest", "cpu_request", CPU_EXAMPLES),
    ("cpuLimit", "cpu_limit", CPU_EXAMPLES),
    ("memoryRequest", "memory_request", MEMORY_EXAMPLES),
    ("memoryLimit", "memory_limit", MEMORY_EXAMPLES),
)
_ATTR = {key: attr for key, attr, _ in _QUANTITY_KEYS}


@dataclass
class ReadStep:
    """A step whose ``name`` may still be empty, with the nodes later checks point at."""

    step: Step
    node: Node
    name_node: Node | None
    kind_node: ScalarNode
    has_cache: bool


def read_cache_paths(reader: Reader, node: Node) -> tuple[str, ...] | None:
    """``cache: {paths: [...]}``; paths may not be empty or hold a ``..`` component (they become mounts)."""
    fields = reader.fields(node, "'cache' (write cache: {paths: [...]})", ("paths",))
    if fields is None:
        return None
    paths_node = reader.require(fields, "paths", "'cache'", "the list of directories to keep")
    if paths_node is None:
        return None
    if isinstance(paths_node, ScalarNode) and paths_node.tag != NULL:
        items = [paths_node]
    elif isinstance(paths_node, SequenceNode) and paths_node.value:
        items = paths_node.value
    else:
        reader.error(paths_node, f"expected a list of directories for 'paths', got {describe(paths_node)}")
        return None
    paths = []
    for item in items:
        path = reader.string(item, "a cache path")
        if path is not None and (".." in re.split(r"[/\\]", path) or "\0" in path):
            reader.error(item, f"cache path '{path}' must not contain a '..' component")
        elif path is not None:
            paths.append(path)
    return tuple(paths) if len(paths) == len(items) else None


def read_step(reader: Reader, node: Node) -> ReadStep | None:
    fields = reader.fields(node, "a step", STEP_KEYS, rejected=REJECTED_STEP_KEYS)
    if fields is None:
        return None
    kinds = [name for name in fields.entries if name in KIND_KEYS]
    if len(kinds) > 1:
        reader.error(
            fields.key(kinds[1]),
            f"a step has exactly one kind, but this one has both {kinds[0]} and {kinds[1]}; "
            "split them into two steps",
        )
        return None
    if not kinds:
        # A publishCatalogConfig step, or a misspelt kind, was already reported with its own message.
        catalog = isinstance(node, MappingNode) and any(
            k.value == "publishCatalogConfig" for k, _ in node.value
        )
        if not catalog and not any(fields.misspelled(key) for key in KIND_KEYS):
            reader.error(node, "a step needs one kind: " + ", ".join(KIND_KEYS))
        return None
    kind_key = fields.key(kinds[0])
    kind = KIND_KEYS[kinds[0]]
    before = len(reader.sink.errors)
    config = _KIND_READERS[kind](reader, fields.at(kinds[0]), kind_key)
    common = _read_common(reader, fields)
    if config is None or common is None or len(reader.sink.errors) > before:
        return None
    name_node = fields.value("name")
    step = Step(name=common.pop("name", ""), kind=kind, config=config, **common)
    return ReadStep(step, node, name_node, kind_key, "cache" in fields)


def _read_common(reader: Reader, fields: Fields) -> dict[str, object] | None:
    before = len(reader.sink.errors)
    out: dict[str, object] = {}
    if (node := fields.value("name")) is not None and (name := reader.string(node, "'name'")) is not None:
        if not STEP_NAME.fullmatch(name):
            reader.error(
                node,
                f"step name '{name}' must be 1-63 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit (it names the step's log and container)",
            )
        out["name"] = name
    if (node := fields.value("env")) is not None:
        out["env"] = reader.string_map(node, "'env'", names=ENV_NAME, name_rule=ENV_RULE) or {}
    if (node := fields.value("envFrom")) is not None:
        out["env_from"] = _read_env_from(reader, node)
    if (node := fields.value("cache")) is not None:
        out["cache_paths"] = read_cache_paths(reader, node) or ()
    if (node := fields.value("timeout")) is not None:
        out["timeout_minutes"] = reader.number(node, "'timeout'")
    for key, attr, examples in _QUANTITY_KEYS:
        out[attr] = reader.quantity(fields, key, examples)
    for request, limit in (("cpuRequest", "cpuLimit"), ("memoryRequest", "memoryLimit")):
        low, high = out.get(_ATTR[request]), out.get(_ATTR[limit])
        low_value = parse_quantity(low) if isinstance(low, str) else None
        high_value = parse_quantity(high) if isinstance(high, str) else None
        if low_value is not None and high_value is not None and low_value > high_value:
            reader.error(
                fields.at(request),
                f"{request} {low} is more than {limit} {high}; Kubernetes rejects a request above its limit",
            )
    if (node := fields.value("when")) is not None:
        out["when"] = read_when(reader, node)
    return out if len(reader.sink.errors) == before else None


def _read_env_from(reader: Reader, node: Node) -> tuple[EnvFrom, ...]:
    if not isinstance(node, SequenceNode):
        reader.error(
            node,
            f"expected a list of {{sourceName, sourceKey, targetKey}} for 'envFrom', got {describe(node)}",
        )
        return ()
    result = []
    for item in node.value:
        fields = reader.fields(item, "an envFrom item", ("sourceName", "sourceKey", "targetKey"))
        if fields is None:
            continue
        values: dict[str, str | None] = {}
        for key, meaning in (
            ("sourceName", "the project secret to read"),
            ("sourceKey", "the key in that secret"),
        ):
            value_node = reader.require(fields, key, "an envFrom item", meaning)
            values[key] = None if value_node is None else reader.string(value_node, f"'{key}'")
        target_node = fields.value("targetKey") or fields.value("sourceKey")
        target = reader.optional_string(fields, "targetKey", "'targetKey'") or values["sourceKey"]
        if target is not None and target_node is not None and not ENV_NAME.fullmatch(target):
            hint = "" if "targetKey" in fields else "; add targetKey to name the variable"
            reader.error(
                target_node, f"'{target}' is not a valid environment variable name ({ENV_RULE}){hint}"
            )
            continue
        if values["sourceName"] and values["sourceKey"] and target:
            result.append(EnvFrom(values["sourceName"], values["sourceKey"], target))
    return tuple(result)


def _read_source_code(reader: Reader, node: Node, key: ScalarNode) -> StepConfig | None:
    if isinstance(node, ScalarNode) and node.tag == NULL:
        return SourceCodeConfig()
    fields = reader.fields(node, "sourceCodeConfig (it takes no settings: write sourceCodeConfig: {})", ())
    return None if fields is None else SourceCodeConfig()


def _read_run_script(reader: Reader, node: Node, key: ScalarNode) -> StepConfig | None:
    fields = reader.fields(node, "runScriptConfig", ("image", "shellScript"), owner=key)
    if fields is None:
        return None
    image_node = reader.require(
        fields, "image", "runScriptConfig", "the container image to run the script in"
    )
    script_node = reader.require(fields, "shellScript", "runScriptConfig", "the commands to run")
    if isinstance(script_node, SequenceNode):
        reader.error(
            script_node,
            "expected a string for 'shellScript', got a list; "
            "write the commands as a block string (shellScript: |) with one command per line",
        )
        return None
    image = None if image_node is None else reader.string(image_node, "'image'")
    script = None if script_node is None else reader.string(script_node, "'shellScript'")
    if image is not None and any(c.isspace() for c in image):
        reader.error(fields.at("image"), f"image '{image}' must not contain spaces")
        return None
    return None if image is None or script is None else RunScriptConfig(image=image, shell_script=script)


def _workspace_path(reader: Reader, fields: Fields, name: str) -> str | None:
    value = reader.optional_string(fields, name, f"'{name}'")
    if value is not None and ".." in re.split(r"[/\\]", value):
        reader.error(fields.at(name), f"'{name}' must stay inside the workspace; remove the '..' component")
        return None
    return value


def _read_publish_image(reader: Reader, node: Node, key: ScalarNode) -> StepConfig | None:
    allowed = ("dockerfilePath", "buildContext", "tag", "pushRemote", "registry", "preload")
    fields = reader.fields(node, "publishImageConfig", allowed, owner=key)
    if fields is None:
        return None
    tag_node = reader.require(
        fields, "tag", "publishImageConfig", "the image name and tag to push, e.g. myorg/app:1.0"
    )
    tag = None if tag_node is None else reader.string(tag_node, "'tag'")
    if tag is not None and any(c.isspace() for c in tag):
        reader.error(fields.at("tag"), f"tag '{tag}' must not contain spaces")
        tag = None
    push_node, preload_node = fields.value("pushRemote"), fields.value("preload")
    push = False if push_node is None else reader.boolean(push_node, "'pushRemote'")
    preload = None if preload_node is None else _read_preload(reader, preload_node)
    config = PublishImageConfig(
        dockerfile_path=_workspace_path(reader, fields, "dockerfilePath") or "./Dockerfile",
        build_context=_workspace_path(reader, fields, "buildContext") or ".",
        tag=tag or "",
        push_remote=bool(push),
        registry=reader.optional_string(fields, "registry", "'registry'"),
        preload=preload,
    )
    return config if tag is not None and push is not None else None


def _read_preload(reader: Reader, node: Node) -> Preload | None:
    if isinstance(node, ScalarNode) and node.tag == NULL:
        return Preload()
    fields = reader.fields(node, "'preload'", ("nodes", "selector", "parallelism"))
    if fields is None:
        return None
    nodes_node, selector_node, parallel_node = (fields.value(k) for k in ("nodes", "selector", "parallelism"))
    if nodes_node is not None and selector_node is not None:
        reader.error(fields.key("selector"), "'preload' takes either 'nodes' or 'selector', not both")
        return None
    nodes = () if nodes_node is None else reader.string_list(nodes_node, "'nodes'")
    selector = {} if selector_node is None else reader.string_map(selector_node, "'selector'")
    parallelism = None if parallel_node is None else reader.positive_int(parallel_node, "'parallelism'")
    if nodes is None or selector is None or (parallel_node is not None and parallelism is None):
        return None
    return Preload(nodes=nodes, selector=selector, parallelism=parallelism)


def _read_apply_yaml(reader: Reader, node: Node, key: ScalarNode) -> StepConfig | None:
    fields = reader.fields(node, "applyYamlConfig", ("path", "content", "namespace"), owner=key)
    if fields is None:
        return None
    if "path" in fields and "content" in fields:
        reader.error(fields.key("content"), "applyYamlConfig takes either 'path' or 'content', not both")
        return None
    if "path" not in fields and "content" not in fields:
        reader.error(key, "applyYamlConfig needs 'path' (a file in the workspace) or 'content' (inline YAML)")
        return None
    content_node = fields.value("content")
    if content_node is not None and isinstance(content_node, (MappingNode, SequenceNode)):
        reader.error(
            content_node,
            f"expected a string for 'content', got {describe(content_node)}; "
            "write the manifests as a block string (content: |)",
        )
        return None
    return ApplyYamlConfig(
        path=_workspace_path(reader, fields, "path"),
        content=None if content_node is None else reader.string(content_node, "'content'"),
        namespace=_dns_label(reader, fields, "namespace"),
    )


def _dns_label(reader: Reader, fields: Fields, name: str) -> str | None:
    value = reader.optional_string(fields, name, f"'{name}'")
    if value is not None and "${" not in value and not _DNS_LABEL.fullmatch(value):
        reader.error(
            fields.at(name),
            f"'{name}' must be a Kubernetes name: at most 63 lowercase letters, "
            f"digits or '-', starting and ending with a letter or digit; got '{value}'",
        )
        return None
    return value


def _read_apply_app(reader: Reader, node: Node, key: ScalarNode) -> StepConfig | None:
    allowed = ("chart", "repo", "version", "name", "targetNamespace", "values", "answers")
    rejected = {
        "catalogTemplate": "catalogTemplate refers to a Rancher catalog, which is not supported; "
        "name the Helm chart with 'chart' and its repository with 'repo'"
    }
    fields = reader.fields(node, "applyAppConfig", allowed, owner=key, rejected=rejected)
    if fields is None:
        return None
    required = {
        "chart": "the Helm chart",
        "name": "the release name",
        "targetNamespace": "where to install it",
    }
    found = {k: reader.require(fields, k, "applyAppConfig", meaning) for k, meaning in required.items()}
    if "values" in fields and "answers" in fields:
        reader.error(fields.key("answers"), "'answers' is Rancher's name for 'values'; give only one of them")
        return None
    values_key = "answers" if "answers" in fields else "values"
    values_node = fields.value(values_key)
    values = {} if values_node is None else reader.string_map(values_node, f"'{values_key}'", flatten=True)
    chart = None if found["chart"] is None else reader.string(found["chart"], "'chart'")
    name = None if found["name"] is None else _dns_label(reader, fields, "name")
    namespace = None if found["targetNamespace"] is None else _dns_label(reader, fields, "targetNamespace")
    if chart is None or name is None or namespace is None or values is None:
        return None
    return ApplyAppConfig(
        chart=chart,
        repo=reader.optional_string(fields, "repo", "'repo'"),
        version=reader.optional_string(fields, "version", "'version'"),
        name=name,
        target_namespace=namespace,
        values=values,
    )


_KIND_READERS = {
    "sourceCode": _read_source_code,
    "runScript": _read_run_script,
    "publishImage": _read_publish_image,
    "applyYaml": _read_apply_yaml,
    "applyApp": _read_apply_app,
}
