"""Typed readers over YAML nodes: each returns a Python value or None after reporting why not.

They exist so the step/stage readers state *what* they expect in one line each while the wording of
errors ("expected a list of strings for 'paths', got a mapping") and their positions stay uniform.
Scalars destined to be strings keep the file's own spelling (``node.value``): ``version: 1.10`` must
stay "1.10", not the float 1.1, and ``CGO_ENABLED: 0`` becomes "0".
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ErrorSink
from .yaml_nodes import BOOL, FLOAT, INT, NULL, describe, mapping_entries

_QUANTITY = re.compile(
    r"^(?P<number>[+]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>[eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$"
)
_SUFFIX_SCALE = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(text: str) -> Decimal | None:
    """The value of a non-negative Kubernetes resource quantity ("500m", "1Gi", "2e3"), or None."""
    match = _QUANTITY.match(text)
    if match is None:
        return None
    suffix = match.group("suffix") or ""
    try:
        number = Decimal(match.group("number"))
        if suffix[:1] in ("e", "E"):
            return number * (Decimal(10) ** int(suffix[1:]))
        return number * _SUFFIX_SCALE[suffix]
    except (InvalidOperation, ArithmeticError, ValueError):  # ValueError: an exponent of over 4300 digits
        return None


@dataclass
class Fields:
    """A mapping's entries by key, plus the node that "missing key" errors should point at."""

    owner: Node
    entries: dict[str, tuple[ScalarNode, Node]]
    unknown: list[str] = field(default_factory=list)

    def misspelled(self, name: str) -> bool:
        """Whether an unknown key was reported as probably meaning ``name`` (then "missing" is noise)."""
        return any(_closest(key, [name]) for key in self.unknown)

    def value(self, name: str) -> Node | None:
        entry = self.entries.get(name)
        return None if entry is None else entry[1]

    def at(self, name: str) -> Node:
        """The value node of a key the caller knows is present."""
        return self.entries[name][1]

    def key(self, name: str) -> ScalarNode:
        return self.entries[name][0]

    def __contains__(self, name: str) -> bool:
        return name in self.entries


class Reader:
    """Reads nodes into values for one file, reporting problems into its sink."""

    def __init__(self, sink: ErrorSink) -> None:
        self.sink = sink

    def error(self, where: Node, message: str) -> None:
        self.sink.at(where, message)

    def fields(
        self,
        node: Node,
        what: str,
        allowed: Sequence[str],
        *,
        owner: Node | None = None,
        rejected: Mapping[str, str] | None = None,
    ) -> Fields | None:
        """Check ``node`` is a mapping with only ``allowed`` keys; ``rejected`` keys get their own message."""
        if not isinstance(node, MappingNode):
            # An empty value (`runScriptConfig:` and nothing) is best shown at its key.
            empty = isinstance(node, ScalarNode) and node.tag == NULL and not node.value
            self.error(
                owner if empty and owner is not None else node,
                f"expected a mapping for {what}, got {describe(node)}",
            )
            return None
        entries: dict[str, tuple[ScalarNode, Node]] = {}
        unknown: list[str] = []
        for name, key, value in mapping_entries(node):
            if rejected and name in rejected:
                self.error(key, rejected[name])
            elif name not in allowed:
                self.error(key, unknown_key_message(name, what, allowed))
                unknown.append(name)
            else:
                entries[name] = (key, value)
        return Fields(owner if owner is not None else node, entries, unknown)

    def require(self, fields: Fields, name: str, what: str, meaning: str) -> Node | None:
        node = fields.value(name)
        if node is None and not fields.misspelled(name):
            self.error(fields.owner, f"{what} is missing required key '{name}' ({meaning})")
        return node

    def string(self, node: Node, what: str, *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            self.error(node, f"expected a string for {what}, got {describe(node)}")
            return None
        if not allow_empty and not node.value.strip():
            self.error(node, f"expected a non-empty string for {what}")
            return None
        return str(node.value)

    def optional_string(self, fields: Fields, name: str, what: str) -> str | None:
        node = fields.value(name)
        return None if node is None else self.string(node, what)

    def number(self, node: Node, what: str) -> float | None:
        """A positive, finite int or float (timeouts); floats allowed so tests can use short ones."""
        if not isinstance(node, ScalarNode) or node.tag not in (INT, FLOAT):
            self.error(node, f"expected a positive number of minutes for {what}, got {describe(node)}")
            return None
        try:
            value = float(int(node.value.replace("_", ""), 0)) if node.tag == INT else float(node.value)
        except (ValueError, OverflowError):  # over 4300 digits; too large for a float
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            self.error(node, f"expected a positive number of minutes for {what}, got {node.value}")
            return None
        return value

    def positive_int(self, node: Node, what: str) -> int | None:
        value = 0
        if isinstance(node, ScalarNode) and node.tag == INT and node.value.isdigit():
            try:
                value = int(node.value)
            except ValueError:  # more digits than Python converts (4300): no count means that
                value = 0
        if value < 1:
            self.error(node, f"expected a positive whole number for {what}, got {describe(node)}")
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != BOOL:
            self.error(node, f"expected true or false for {what}, got {describe(node)}")
            return None
        return node.value.lower() in ("true", "yes", "on", "y")

    def string_list(self, node: Node, what: str, *, single: bool = True) -> tuple[str, ...] | None:
        """A list of strings; a lone string counts as a list of one when ``single`` (Rancher allows it)."""
        if single and isinstance(node, ScalarNode) and node.tag != NULL:
            value = self.string(node, what)
            return None if value is None else (value,)
        if not isinstance(node, SequenceNode):
            self.error(node, f"expected a list of strings for {what}, got {describe(node)}")
            return None
        values = [self.string(item, f"an item of {what}") for item in node.value]
        return None if any(value is None for value in values) else tuple(v for v in values if v is not None)

    def string_map(
        self,
        node: Node,
        what: str,
        *,
        flatten: bool = False,
        names: re.Pattern[str] | None = None,
        name_rule: str = "",
    ) -> dict[str, str] | None:
        """Keys to scalar values coerced to strings; ``flatten`` turns nested mappings into dotted keys.

        ``names``, when given, is the pattern every key must match (``name_rule`` says it in words).
        """
        if not isinstance(node, MappingNode):
            self.error(node, f"expected a mapping of names to strings for {what}, got {describe(node)}")
            return None
        result: dict[str, str] = {}
        ok = True
        for name, key, value in mapping_entries(node):
            if flatten and isinstance(value, MappingNode):
                nested = self.string_map(value, what, flatten=True)
                ok = ok and nested is not None
                result.update({f"{name}.{k}": v for k, v in (nested or {}).items()})
            elif not isinstance(value, ScalarNode) or value.tag == NULL:
                hint = "; write '' for an empty value" if isinstance(value, ScalarNode) else ""
                # An empty value has no text of its own to point at; its key is where the eye goes.
                where = key if hint else value
                self.error(
                    where, f"expected a string value for '{name}' in {what}, got {describe(value)}{hint}"
                )
                ok = False
            else:
                result[name] = str(value.value)
            if names is not None and not names.fullmatch(name):
                self.error(key, f"'{name}' in {what} is not a valid name: {name_rule}")
                ok = False
        return result if ok else None

    def quantity(self, fields: Fields, name: str, examples: str) -> str | None:
        node = fields.value(name)
        if node is None:
            return None
        text = self.string(node, f"'{name}'")
        if text is not None and parse_quantity(text) is None:
            self.error(node, f"'{name}' expects a Kubernetes quantity such as {examples}, got '{text}'")
            return None
        return text


def _closest(name: str, allowed: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if not close:
        close = [key for key in allowed if key.lower() == name.lower()]
    return close[0] if close else None


def unknown_key_message(name: str, what: str, allowed: Sequence[str]) -> str:
    close = _closest(name, allowed)
    hint = f"; did you mean '{close}'?" if close else ""
    return f"unknown key '{name}' in {what}{hint} (valid keys: {', '.join(allowed)})"
