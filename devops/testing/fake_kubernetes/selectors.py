"""Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=), as the API parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import bad_request

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value in self.values
        if self.operator == "!=":
            return not present or value not in self.values
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present  # "!exists"


def split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, current = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in (t.strip() for t in terms) if t]


def parse_label_selector(selector: str | None) -> list[Requirement]:
    requirements = []
    for term in split_terms(selector or ""):
        if m := _SET_RE.match(term):
            values = [v.strip() for v in m["values"].split(",") if v.strip()]
            if not values or not all(_VALUE_RE.match(v) for v in values):
                raise bad_request(f"unable to parse requirement: invalid values in {term!r}")
            requirements.append(Requirement(m["key"], m["op"], frozenset(values)))
        elif m := _EQ_RE.match(term):
            op = "!=" if m["op"] == "!=" else "="
            requirements.append(Requirement(m["key"], op, frozenset([m["value"]])))
        elif m := _EXISTS_RE.match(term):
            requirements.append(Requirement(m["key"], "!exists" if m["neg"] else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: found {term!r}, expected a label selector term")
    return requirements


def label_matcher(selector: str | None) -> Callable[[dict], bool]:
    requirements = parse_label_selector(selector)

    def matches(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return matches


def field_value(obj: dict, path: str) -> str:
    """The string value at a dotted path (``spec.nodeName``); missing fields compare as ''."""
    node: object = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def parse_field_selector(selector: str | None) -> list[tuple[str, str, str]]:
    out = []
    for term in split_terms(selector or ""):
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: {term!r}; can't understand {term!r}")
        out.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out


def field_matcher(selector: str | None) -> Callable[[dict], bool]:
    terms = parse_field_selector(selector)

    def matches(obj: dict) -> bool:
        for path, op, want in terms:
            have = field_value(obj, path)
            if (have == want) != (op == "="):
                return False
        return True

    return matches


def matcher(label_selector: str | None = None, field_selector: str | None = None) -> Callable[[dict], bool]:
    by_label, by_field = label_matcher(label_selector), field_matcher(field_selector)
    return lambda obj: by_label(obj) and by_field(obj)
