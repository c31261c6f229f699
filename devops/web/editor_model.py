"""The visual editor's model of a pipeline file, and the two conversions the editor round-trips through.

The browser edits a *file-shaped* JSON model (the file's own camelCase keys, one ``*Config`` key per
step), so an error's position in the YAML maps to a form field by the same dotted path
(``stages.1.steps.0.runScriptConfig.image``). Both directions use the real parser:

* ``parse_for_editor``: YAML -> every error (line, column, path) or the model. Values come from the
  parsed :class:`PipelineSpec` (so meaning is exactly what the engine would run); the YAML nodes only
  say what the parser fills in by itself (default step names, the implicit Clone stage, a template's
  stages, a stage-level cache) so the editor does not write those back into the file.
* ``render_model``: model -> YAML text, lenient about values (a wrong value is written as it is, so the
  parser reports it with a line the editor can point at) and strict only about shape (``ModelError``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from devops.pipeline_config import PipelineConfigError, PipelineSpec, Stage, Step, TemplateDef, When, parse_pipeline
from devops.pipeline_config.errors import ErrorSink
from devops.pipeline_config.steps import KIND_KEYS
from devops.pipeline_config.yaml_nodes import NULL, compose, mapping_entries

FILENAME = ".devops.yml"
FILE_KEY = {kind: key for key, kind in KIND_KEYS.items()}  # "runScript" -> "runScriptConfig"
RESOURCE_KEYS = ("cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit")
STARTER = """\
stages:
  - name: Build
    steps:
      - runScriptConfig:
          image: alpine:3.20
          shellScript: |
            echo "hello from the pipeline"
"""


class ModelError(ValueError):
    """The posted model is not shaped like the editor's model (a client bug, answered with 400)."""


@dataclass
class EditorResult:
    """What the editor shows after a round trip: the model when the file parses, every error when not."""

    valid: bool
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] | None = None
    yaml: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "errors": self.errors, "model": self.model, "yaml": self.yaml}


# --- YAML -> model ------------------------------------------------------------------------------------
def parse_for_editor(text: str, templates: Mapping[str, TemplateDef] | None = None) -> EditorResult:
    try:
        spec = parse_pipeline(text, filename=FILENAME, templates=templates or {})
    except PipelineConfigError as exc:
        return EditorResult(False, errors_with_paths(text, exc), None, text)
    root = compose(text, ErrorSink(FILENAME))
    if root is None:  # cannot happen after a successful parse; keep the editor usable anyway
        return EditorResult(True, [], None, text)
    return EditorResult(True, [], spec_to_model(spec, root), text)


def errors_with_paths(text: str, exc: PipelineConfigError) -> list[dict[str, Any]]:
    """The parser's errors, each with the dotted path of the YAML node it points at ('' if unknown)."""
    positions = line_paths(text)
    return [
        {
            "file": e.file,
            "line": e.line,
            "column": e.column,
            "message": e.message,
            "path": path_at(positions, e.line, e.column) if e.file == FILENAME else "",
        }
        for e in exc.errors
    ]


def line_paths(text: str) -> list[tuple[int, int, str]]:
    """(line, column, path) of every key and value node, 1-based like the parser's errors."""
    root = compose(text, ErrorSink(FILENAME))
    out: list[tuple[int, int, str]] = []
    if root is None:
        return out
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        out.append((node.start_mark.line + 1, node.start_mark.column + 1, path))
        if id(node) in seen:  # an alias: its children were walked under their anchor's path
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    child = f"{path}.{key.value}" if path else str(key.value)
                    out.append((key.start_mark.line + 1, key.start_mark.column + 1, child))
                    stack.append((value, child))
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{path}.{index}" if path else str(index)) for index, item in enumerate(node.value))
    return out


def path_at(positions: list[tuple[int, int, str]], line: int, column: int) -> str:
    """The path of the node an error at (line, column) points at: the right-most node starting on
    that line at or before the column; on a tie the shorter path (a mapping starts where its first
    key does, and an error about the mapping is about the whole step or stage)."""
    on_line = [(c, p) for ln, c, p in positions if ln == line]
    if not on_line:
        return ""
    before = [(c, p) for c, p in on_line if c <= column] or on_line
    best_column = max(c for c, _ in before)
    return min((p for c, p in before if c == best_column), key=lambda p: (p.count("."), len(p)))


def spec_to_model(spec: PipelineSpec, root: MappingNode) -> dict[str, Any]:
    top = {name: value for name, _, value in mapping_entries(root)}
    stage_nodes = top["stages"].value if isinstance(top.get("stages"), SequenceNode) else []
    own = spec.stages[len(spec.stages) - len(stage_nodes) :] if stage_nodes else ()
    model: dict[str, Any] = {}
    if "template" in top:
        model["template"] = _template_model(top["template"])
    if "timeout" in top:
        model["timeout"] = _number(spec.timeout_minutes)
    if "branch" in top and spec.branch is not None:
        model["branch"] = _filter(spec.branch.include, spec.branch.exclude)
    if "notification" in top and spec.notification is not None:
        n = spec.notification
        model["notification"] = {
            "recipients": [{"recipient": r.recipient, "notifier": r.notifier} for r in n.recipients],
            "condition": list(n.condition),
            **({"message": n.message} if n.message is not None else {}),
        }
    model["stages"] = [_stage_model(stage, node) for stage, node in zip(own, stage_nodes, strict=True)]
    return model


def _entries(node: Node) -> dict[str, Node]:
    return {name: value for name, _, value in mapping_entries(node)} if isinstance(node, MappingNode) else {}


def _template_model(node: Node) -> dict[str, Any]:
    if isinstance(node, ScalarNode):
        return {"name": str(node.value), "params": {}}
    fields = _entries(node)
    name = fields.get("name")
    params = _entries(fields["params"]) if "params" in fields else {}
    return {
        "name": str(name.value) if isinstance(name, ScalarNode) else "",
        "params": {k: str(v.value) for k, v in params.items() if isinstance(v, ScalarNode) and v.tag != NULL},
    }


def _filter(include: tuple[str, ...] | list[str], exclude: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    return {"include": list(include), "exclude": list(exclude)}


def _when_model(when: When) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if when.branch is not None:
        out["branch"] = _filter(when.branch.include, when.branch.exclude)
    if when.event is not None:
        out["event"] = list(when.event)
    return out


def _cache_paths(node: Node | None) -> list[str]:
    paths = _entries(node).get("paths") if node is not None else None
    if isinstance(paths, SequenceNode):
        return [str(item.value) for item in paths.value if isinstance(item, ScalarNode)]
    return [str(paths.value)] if isinstance(paths, ScalarNode) else []


def _stage_model(stage: Stage, node: Node) -> dict[str, Any]:
    fields = _entries(node)
    out: dict[str, Any] = {"name": stage.name}
    if stage.when is not None:
        out["when"] = _when_model(stage.when)
    if "cache" in fields:
        out["cache"] = {"paths": _cache_paths(fields["cache"])}
    step_nodes = fields["steps"].value if isinstance(fields.get("steps"), SequenceNode) else []
    out["steps"] = [_step_model(step, step_node) for step, step_node in zip(stage.steps, step_nodes, strict=False)]
    return out


def _step_model(step: Step, node: Node) -> dict[str, Any]:
    fields = _entries(node)
    out: dict[str, Any] = {}
    if "name" in fields:
        out["name"] = step.name
    out[FILE_KEY[step.kind]] = _config_model(step)
    if step.when is not None:
        out["when"] = _when_model(step.when)
    if step.env:
        out["env"] = dict(step.env)
    if step.env_from:
        out["envFrom"] = [
            {"sourceName": e.source_name, "sourceKey": e.source_key, "targetKey": e.target_key} for e in step.env_from
        ]
    if "cache" in fields:
        out["cache"] = {"paths": list(step.cache_paths)}
    if step.timeout_minutes is not None:
        out["timeout"] = _number(step.timeout_minutes)
    for key, value in zip(
        RESOURCE_KEYS, (step.cpu_request, step.cpu_limit, step.memory_request, step.memory_limit), strict=True
    ):
        if value is not None:
            out[key] = value
    return out


def _config_model(step: Step) -> dict[str, Any]:
    c: Any = step.config
    if step.kind == "runScript":
        return {"image": c.image, "shellScript": c.shell_script}
    if step.kind == "publishImage":
        out = {"dockerfilePath": c.dockerfile_path, "buildContext": c.build_context, "tag": c.tag}
        out["pushRemote"] = c.push_remote
        if c.registry is not None:
            out["registry"] = c.registry
        if c.preload is not None:
            p = c.preload
            out["preload"] = {
                **({"nodes": list(p.nodes)} if p.nodes else {}),
                **({"selector": dict(p.selector)} if p.selector else {}),
                **({"parallelism": p.parallelism} if p.parallelism is not None else {}),
            }
        return out
    if step.kind == "applyYaml":
        return {
            k: v for k, v in (("path", c.path), ("content", c.content), ("namespace", c.namespace)) if v is not None
        }
    if step.kind == "applyApp":
        out = {"chart": c.chart}
        out.update({k: v for k, v in (("repo", c.repo), ("version", c.version)) if v is not None})
        out.update({"name": c.name, "targetNamespace": c.target_namespace, "values": dict(c.values)})
        return out
    return {}  # sourceCodeConfig takes no settings


def _number(value: float | int) -> float | int:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# --- model -> YAML ------------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style with indented lists (``steps:\\n  - ...``), ``|`` for multi-line strings, and
    short lists of plain strings inline (``event: [push, tag]``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    short = value and all(isinstance(v, str) and "\n" not in v for v in value) and sum(len(v) + 2 for v in value) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=bool(short))


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)


def render_model(model: Any) -> str:
    """The YAML text for a model (see the module docstring); raises ModelError for a bad shape."""
    data = model_to_file(model)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{where} must be an object")
    return value


def _items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ModelError(f"{where} must be a list")
    return value


def _scalar(value: Any) -> Any:
    """A value as the file would hold it: strings trimmed of nothing, numbers kept, others refused."""
    if value is None or isinstance(value, (str, bool, int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    raise ModelError(f"expected a plain value, got {type(value).__name__}")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _numeric(value: Any) -> Any:
    """A number typed into a text box as a number; anything else as written (the parser says why)."""
    value = _scalar(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(_scalar(v)) for v in _items(value, where) if _given(v)]


def _filter_file(value: Any, where: str) -> dict[str, list[str]] | None:
    data = _mapping(value, where)
    include, exclude = _strings(data.get("include"), where), _strings(data.get("exclude"), where)
    if not include and not exclude:
        return None
    return {**({"include": include} if include else {}), **({"exclude": exclude} if exclude else {})}


def _when_file(value: Any, where: str) -> dict[str, Any] | None:
    data = _mapping(value, where)
    out: dict[str, Any] = {}
    if (branch := _filter_file(data.get("branch"), f"{where}.branch")) is not None:
        out["branch"] = branch
    events = _strings(data.get("event"), f"{where}.event")
    if events:
        out["event"] = events
    return out or None


def _cache_file(value: Any, where: str) -> dict[str, list[str]] | None:
    if value is None:
        return None
    paths = _mapping(value, where).get("paths")
    if isinstance(paths, str):
        paths = [line.strip() for line in re.split(r"[\n,]", paths) if line.strip()]
    return {"paths": _strings(paths, f"{where}.paths")}


def model_to_file(model: Any) -> dict[str, Any]:
    data = _mapping(model, "the model")
    out: dict[str, Any] = {}
    template = _mapping(data.get("template"), "template")
    if template:
        params = {str(k): _scalar(v) for k, v in _mapping(template.get("params"), "template.params").items()}
        out["template"] = {"name": _scalar(template.get("name")) or "", **({"params": params} if params else {})}
    if _given(data.get("timeout")):
        out["timeout"] = _numeric(data["timeout"])
    if (branch := _filter_file(data.get("branch"), "branch")) is not None:
        out["branch"] = branch
    if data.get("notification"):
        out["notification"] = _notification_file(data["notification"])
    stages = [_stage_file(stage, f"stages.{i}") for i, stage in enumerate(_items(data.get("stages"), "stages"))]
    if stages or not template:
        out["stages"] = stages
    return out


def _notification_file(value: Any) -> dict[str, Any]:
    data = _mapping(value, "notification")
    recipients = [
        {"recipient": _scalar(r.get("recipient")), "notifier": _scalar(r.get("notifier"))}
        for r in (_mapping(item, "notification.recipients") for item in _items(data.get("recipients"), "recipients"))
    ]
    out: dict[str, Any] = {"recipients": recipients, "condition": _strings(data.get("condition"), "condition")}
    if _given(data.get("message")):
        out["message"] = _scalar(data["message"])
    return out


def _stage_file(value: Any, where: str) -> dict[str, Any]:
    data = _mapping(value, where)
    out: dict[str, Any] = {"name": _scalar(data.get("name")) if _given(data.get("name")) else ""}
    if (when := _when_file(data.get("when"), f"{where}.when")) is not None:
        out["when"] = when
    if (cache := _cache_file(data.get("cache"), f"{where}.cache")) is not None and cache["paths"]:
        out["cache"] = cache
    out["steps"] = [_step_file(s, f"{where}.steps.{i}") for i, s in enumerate(_items(data.get("steps"), where))]
    return out


def _step_file(value: Any, where: str) -> dict[str, Any]:
    data = _mapping(value, where)
    out: dict[str, Any] = {}
    if _given(data.get("name")):
        out["name"] = _scalar(data["name"])
    for key in KIND_KEYS:
        if key in data:
            out[key] = _config_file(key, _mapping(data[key], f"{where}.{key}"))
    if (when := _when_file(data.get("when"), f"{where}.when")) is not None:
        out["when"] = when
    env = {str(k): _env_value(v) for k, v in _mapping(data.get("env"), f"{where}.env").items() if str(k)}
    if env:
        out["env"] = env
    env_from = [_env_from_file(item, f"{where}.envFrom") for item in _items(data.get("envFrom"), f"{where}.envFrom")]
    env_from = [item for item in env_from if item]
    if env_from:
        out["envFrom"] = env_from
    if (cache := _cache_file(data.get("cache"), f"{where}.cache")) is not None:
        out["cache"] = cache
    if _given(data.get("timeout")):
        out["timeout"] = _numeric(data["timeout"])
    for key in RESOURCE_KEYS:
        if _given(data.get(key)):
            out[key] = str(_scalar(data[key])).strip()
    return out


def _env_value(value: Any) -> Any:
    value = _scalar(value)
    return "" if value is None else str(value) if not isinstance(value, str) else value


def _env_from_file(value: Any, where: str) -> dict[str, Any]:
    data = _mapping(value, where)
    return {k: _scalar(data[k]) for k in ("sourceName", "sourceKey", "targetKey") if _given(data.get(k))}


def _config_file(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """One kind's settings: required fields always written (empty if not filled in, so the error
    points at them), optional ones only when given, defaults left out."""
    get = {k: _scalar(v) for k, v in data.items() if k != "preload" and k != "values"}
    if key == "runScriptConfig":
        return {"image": get.get("image") or "", "shellScript": get.get("shellScript") or ""}
    if key == "publishImageConfig":
        out: dict[str, Any] = {}
        if _given(get.get("dockerfilePath")) and get["dockerfilePath"] != "./Dockerfile":
            out["dockerfilePath"] = get["dockerfilePath"]
        if _given(get.get("buildContext")) and get["buildContext"] != ".":
            out["buildContext"] = get["buildContext"]
        out["tag"] = get.get("tag") or ""
        if get.get("pushRemote") not in (None, "", False, "false"):
            out["pushRemote"] = True if get["pushRemote"] in (True, "true", "on") else get["pushRemote"]
        if _given(get.get("registry")):
            out["registry"] = get["registry"]
        if data.get("preload") is not None:
            out["preload"] = _preload_file(_mapping(data["preload"], "preload"))
        return out
    if key == "applyYamlConfig":
        return {k: get[k] for k in ("path", "content", "namespace") if _given(get.get(k))}
    if key == "applyAppConfig":
        out = {"chart": get.get("chart") or ""}
        out.update({k: get[k] for k in ("repo", "version") if _given(get.get(k))})
        out.update({"name": get.get("name") or "", "targetNamespace": get.get("targetNamespace") or ""})
        values = {str(k): _env_value(v) for k, v in _mapping(data.get("values"), "values").items() if str(k)}
        if values:
            out["values"] = values
        return out
    return {}


def _preload_file(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nodes = _strings(data.get("nodes"), "preload.nodes")
    if nodes:
        out["nodes"] = nodes
    selector = {str(k): _env_value(v) for k, v in _mapping(data.get("selector"), "preload.selector").items()}
    if selector:
        out["selector"] = selector
    if _given(data.get("parallelism")):
        out["parallelism"] = _numeric(data["parallelism"])
    return out


def render_for_editor(model: Any, templates: Mapping[str, TemplateDef] | None = None) -> EditorResult:
    """Render the model and check the text it gives, so the forms learn their errors too."""
    text = render_model(model)
    result = parse_for_editor(text, templates)
    return EditorResult(result.valid, result.errors, result.model if result.valid else None, text)
