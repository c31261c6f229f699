"""Project templates: ``template: {name, params}`` in a pipeline file (an extension).

The body is filled in *after* it is parsed, inside each scalar, rather than by text replacement
before parsing: a parameter value can then never change the YAML structure (a value holding ": " or
a newline stays one string), and errors inside the template keep exact line/column positions in the
template's own text (reported as file ``template:<name>``). A plain scalar is re-resolved after
filling so ``timeout: ${params.minutes}`` still reads as a number.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from .errors import ErrorSink
from .schema import Reader
from .yaml_nodes import children, compose, decode, describe, mapping_entries

_PLACEHOLDER = re.compile(r"\$(\$?)\{params\.([A-Za-z_][A-Za-z0-9_]*)\}")
_RESOLVER = yaml.resolver.Resolver()


@dataclass(frozen=True)
class TemplateDef:
    """A named pipeline body with ``${params.NAME}`` placeholders; ``params`` maps name -> default.

    A default of None makes the parameter required.
    """

    name: str
    body: str
    params: dict[str, str | None] = field(default_factory=dict)


def resolve_template(
    reader: Reader, key: ScalarNode, node: Node, templates: Mapping[str, TemplateDef] | None
) -> tuple[TemplateDef, dict[str, str]] | None:
    """The template named by ``template:`` and its parameter values (defaults filled in)."""
    if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        name_node: Node | None = node  # `template: go-service` is short for {name: go-service}
        params_key: Node | None = None
        params_node: Node | None = None
    else:
        fields = reader.fields(node, "'template'", ("name", "params"), owner=key)
        if fields is None:
            return None
        name_node = reader.require(fields, "name", "'template'", "which project template to use")
        params_node = fields.value("params")
        params_key = fields.key("params") if params_node is not None else None
    name = None if name_node is None else reader.string(name_node, "the template 'name'")
    if name is None or name_node is None:
        return None
    available = dict(templates or {})
    template = available.get(name)
    if template is None:
        close = difflib.get_close_matches(name, list(available), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        known = f"available: {', '.join(sorted(available))}" if available else "this project has no templates"
        reader.error(name_node, f"unknown template '{name}'{hint} ({known})")
        return None
    given = _read_params(reader, template, params_node)
    if given is None:
        return None
    values: dict[str, str] = {}
    for param, default in template.params.items():
        if param in given:
            values[param] = given[param]
        elif default is None:
            reader.error(
                params_key or key, f"template '{name}' needs parameter '{param}' (it has no default)"
            )
        else:
            values[param] = default
    return (template, values) if len(values) == len(template.params) else None


def _read_params(reader: Reader, template: TemplateDef, node: Node | None) -> dict[str, str] | None:
    if node is None:
        return {}
    if not isinstance(node, MappingNode):
        reader.error(
            node, f"expected a mapping of parameter names to values for 'params', got {describe(node)}"
        )
        return None
    values = reader.string_map(node, "'params'")
    if values is None:
        return None
    declared = list(template.params)
    ok = True
    for name, key, _value in mapping_entries(node):
        if name not in template.params:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            listed = ", ".join(declared) if declared else "none"
            reader.error(
                key, f"unknown parameter '{name}' for template '{template.name}'{hint} (parameters: {listed})"
            )
            ok = False
    return values if ok else None


def render_template(
    template: TemplateDef, values: Mapping[str, str], sink: ErrorSink
) -> tuple[MappingNode, Reader] | None:
    """Parse the template body and fill its placeholders; errors go to file ``template:<name>``."""
    template_sink = sink.for_file(f"template:{template.name}")
    text = decode(template.body, template_sink)
    root = None if text is None else compose(text, template_sink)
    if root is None:
        return None
    reader = Reader(template_sink)
    seen: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode) and "${params." in node.value:
            _fill(reader, template, node, values)
        stack.extend(children(node))
    return root, reader


def _fill(reader: Reader, template: TemplateDef, node: ScalarNode, values: Mapping[str, str]) -> None:
    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${params." + name + "}"
        if name not in values:
            declared = ", ".join(template.params) or "none"
            reader.error(
                node,
                f"unknown parameter '{name}' in ${{params.{name}}} (template '{template.name}' "
                f"declares: {declared})",
            )
            return match.group(0)
        return values[name]

    # Plain scalars have style None from PyYAML's composer and '' from libyaml's.
    implicit = not node.style and node.tag == _RESOLVER.resolve(ScalarNode, node.value, (True, False))
    node.value = _PLACEHOLDER.sub(replace, node.value)
    if implicit:
        node.tag = _RESOLVER.resolve(ScalarNode, node.value, (True, False))
