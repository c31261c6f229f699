"""Hypothesis strategies for broken pipeline files: valid ones (``pipeline_files``) mutated the ways
files really go wrong, plus grammar-flavoured random YAML and plain noise.

Structural mutations change the data and render it again (wrong types, unknown keys, missing keys,
huge numbers); textual ones change the rendered text (indentation, tabs, duplicated lines, truncation,
inserted bytes or characters), so the YAML layer's errors are exercised as well as the readers'.
A mutation may leave the file valid (a dropped optional key): the properties allow that.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st
from pipeline_files import PlainNumber, pipeline_files, render

# Every key of the grammar: random mappings use them so the readers get past "unknown key".
VOCABULARY = (
    "timeout",
    "branch",
    "notification",
    "template",
    "stages",
    "name",
    "when",
    "cache",
    "steps",
    "include",
    "exclude",
    "event",
    "recipients",
    "condition",
    "message",
    "recipient",
    "notifier",
    "paths",
    "sourceCodeConfig",
    "runScriptConfig",
    "publishImageConfig",
    "applyYamlConfig",
    "applyAppConfig",
    "publishCatalogConfig",
    "privileged",
    "image",
    "shellScript",
    "env",
    "envFrom",
    "sourceName",
    "sourceKey",
    "targetKey",
    "cpuRequest",
    "cpuLimit",
    "memoryRequest",
    "memoryLimit",
    "dockerfilePath",
    "buildContext",
    "tag",
    "pushRemote",
    "registry",
    "preload",
    "nodes",
    "selector",
    "parallelism",
    "path",
    "content",
    "namespace",
    "chart",
    "repo",
    "version",
    "targetNamespace",
    "values",
    "answers",
    "params",
)

HUGE_INT_TEXT = st.integers(300, 6000).map(lambda n: "9" * n)
# Numbers past float range and past Python's 4300-digit int conversion, as YAML numbers and as strings
# (strings reach the resource quantities: "1e<5000 digits>").
HUGE_VALUES = st.one_of(
    st.sampled_from([10**400, -(10**400), 2**64, 1e308, float("inf"), 10**4000, "1e999999999", "-0"]),
    HUGE_INT_TEXT.map(PlainNumber),
    HUGE_INT_TEXT.map(lambda digits: PlainNumber("0x" + digits)),
    HUGE_INT_TEXT.map(lambda digits: "1e" + digits),
    HUGE_INT_TEXT.map(lambda digits: "0." + digits + "Mi"),
)
ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(),  # nan and infinities included: YAML writes .nan and .inf
    st.text(max_size=20),
    st.sampled_from(["", " ", "~", "null", "yes", "0x1F", "0o17", "1_000", "1e400", "-1", "0", "2024-01-02", "*a"]),
)
ODD_VALUES = st.recursive(
    ODD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like tree (keys and indexes), the root's empty path first."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def structural_mutation(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """One change to the data: retype a value, add an unknown key, drop a key or item, huge numbers."""
    data = copy.deepcopy(data)
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["retype", "unknown-key", "drop", "huge", "empty"]))
    if not path:
        return draw(ODD_VALUES) if kind == "retype" else data
    parent, last = _get(data, path[:-1]), path[-1]
    if kind == "retype":
        parent[last] = draw(ODD_VALUES)
    elif kind == "unknown-key":
        target = _get(data, path)
        if isinstance(target, dict):
            target[draw(st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=12)))] = draw(ODD_VALUES)
        else:
            parent[last] = {draw(st.sampled_from(VOCABULARY)): target}
    elif kind == "drop":
        del parent[last]
    elif kind == "huge":
        parent[last] = draw(HUGE_VALUES)
    else:
        parent[last] = draw(st.sampled_from([{}, [], "", None]))
    return data


def _lines(text: str) -> list[str]:
    return text.split("\n")


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> str | bytes:
    """One change to the text: indentation, tabs, a duplicated or dropped line, truncation, noise."""
    lines = _lines(text)
    index = draw(st.integers(0, max(0, len(lines) - 1)))
    kind = draw(
        st.sampled_from(
            [
                "indent",
                "tab",
                "duplicate",
                "drop-line",
                "truncate",
                "insert-text",
                "insert-bytes",
                "swap-lines",
                "huge-number",
            ]
        )  # fmt: skip
    )
    if kind == "indent":
        stripped = lines[index].lstrip(" ")
        lines[index] = " " * draw(st.integers(0, 12)) + stripped
    elif kind == "tab":
        stripped = lines[index].lstrip(" ")
        lines[index] = "\t" * draw(st.integers(1, 2)) + stripped
    elif kind == "duplicate":
        lines.insert(index, lines[index])
    elif kind == "drop-line":
        del lines[index]
    elif kind == "swap-lines" and len(lines) > 1:
        other = draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], lines[index]
    elif kind == "huge-number":
        lines.insert(index, f"timeout: {draw(HUGE_INT_TEXT)}")
    joined = "\n".join(lines)
    if kind == "truncate":
        return joined[: draw(st.integers(0, len(joined)))]
    if kind == "insert-text":
        at = draw(st.integers(0, len(joined)))
        noise = draw(
            st.one_of(
                st.text(max_size=5),
                st.sampled_from(
                    ["\x00", "\ufeff", "\u2028", "\r", "&a", "*a", "!!binary", "---\n", "? ", "<<: ", "{", "]"]
                ),
            )
        )
        return joined[:at] + noise + joined[at:]
    if kind == "insert-bytes":
        raw = joined.encode("utf-8")
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return joined


@st.composite
def mutated_files(draw: st.DrawFn) -> str | bytes:
    """A valid file with one to three structural and textual mutations."""
    base = draw(pipeline_files(max_stages=3))
    data: Any = base.data
    for _ in range(draw(st.integers(0, 2))):
        data = draw(structural_mutation(data)) if isinstance(data, dict) else data
    text: str | bytes = render(draw, data) if data is not base.data else base.text
    for _ in range(draw(st.integers(0 if data is not base.data else 1, 2))):
        if isinstance(text, bytes):
            break
        text = draw(text_mutation(text))
    return text


@st.composite
def random_documents(draw: st.DrawFn) -> str:
    """YAML of random structure whose keys come from the grammar (so readers go deep before failing)."""
    document = draw(
        st.dictionaries(st.sampled_from(VOCABULARY), ODD_VALUES, min_size=1, max_size=4)
        | st.fixed_dictionaries({"stages": st.lists(ODD_VALUES, max_size=3)})
        | st.fixed_dictionaries(
            {
                "stages": st.lists(
                    st.fixed_dictionaries({"name": ODD_SCALARS, "steps": st.lists(ODD_VALUES, max_size=2)}), max_size=2
                )
            }  # fmt: skip
        )
    )
    return render(draw, document)


NOISE = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.text(st.sampled_from("-:[]{}&*!|>'\"%@`#,? \n\t"), max_size=80),
)

BROKEN_FILES = st.one_of(mutated_files(), random_documents(), NOISE)
