"""Load untrusted YAML into PyYAML's position-carrying node tree, and nothing more.

Pipeline files come from any repository the service can read, so loading must be safe and bounded
before anything interprets them: no object construction (we only *compose* nodes), a size cap, a
nesting cap (PyYAML's composer is recursive), and a cap on the tree as expanded through aliases
(a "billion laughs" file is tiny but expands exponentially). PyYAML also silently keeps the last of
two equal keys, which hides real mistakes, so duplicates are reported here.

Nodes are kept (rather than ``safe_load``-ed into dicts) because every later error needs the line and
column of the key or value it is about.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ErrorSink

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_NODES = 10_000
# Characters of scalar text in the tree as expanded through aliases: one 900 KB string repeated by
# 200 aliases is a 1 MB file and a 180 MB execution config (and 4.5 GB with 5000 aliases).
MAX_EXPANDED_CHARS = 4 * MAX_BYTES
_SURROGATE = re.compile("[\ud800-\udfff]")

TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR = (TAG + name for name in ("null", "bool", "int", "float", "str"))
MERGE = TAG + "merge"
_SCALAR_TAGS = {NULL, BOOL, INT, FLOAT, STR, TAG + "timestamp", MERGE}
_COLLECTION_TAGS = {TAG + "seq", TAG + "map"}
SECOND_DOCUMENT = "expected a single YAML document, found a second one; remove the extra '---' document"


# libyaml is ~6x faster; the pure-Python loader is the fallback where PyYAML was built without it.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]


class _Limit(Exception):
    """A limit was hit while scanning events; carries where and why."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def decode(data: str | bytes, sink: ErrorSink) -> str | None:
    """Check the size limit and decode bytes as UTF-8, pointing at the first undecodable byte."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BYTES:
        sink.at(
            (1, 1), f"the file is {len(raw)} bytes; pipeline files are limited to {MAX_BYTES} bytes (1 MiB)"
        )
        return None
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        sink.at(
            (line, column), f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        )
        return None


def compose(text: str, sink: ErrorSink) -> MappingNode | None:
    """Compose one YAML document into nodes; report and return None if it is unusable."""
    sink.end_at(text)
    # Text from JSON (the web editor, the API) may hold an unpaired surrogate ("\ud800"), which no
    # encoder accepts: libyaml's loader raised UnicodeEncodeError on it.
    if bad := _SURROGATE.search(text):
        sink.at(
            _offset_to_position(text, bad.start()),
            f"the text holds an unpaired surrogate (U+{ord(bad.group()):04X}), which is not a character",
        )
        return None
    try:
        _scan_events(text)
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _Limit as exc:
        sink.at(exc.mark, exc.message)
        return None
    except yaml.MarkedYAMLError as exc:
        _report_yaml_error(exc, sink)
        return None
    except yaml.YAMLError as exc:  # ReaderError: characters YAML does not allow
        sink.at(_reader_error_position(text, exc), f"invalid YAML: {str(exc).splitlines()[0]}")
        return None
    if root is None:
        sink.at((1, 1), "the file is empty; expected a mapping with at least 'stages' (or 'template')")
        return None
    if not _inspect(root, sink):
        return None
    if not isinstance(root, MappingNode):
        sink.at(
            root, f"expected a mapping at the top of the file (stages, timeout, ...), got {describe(root)}"
        )
        return None
    return root


def _scan_events(text: str) -> None:
    """Enforce the nesting, node-count and single-document limits on the event stream, before
    composing: the composer recurses once per nesting level (libyaml's without a recursion guard) and
    would build every node of a huge file before we could count them.
    """
    loader = _LOADER(text)
    try:
        depth = nodes = documents = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Limit(event.start_mark, SECOND_DOCUMENT)
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Limit(
                        event.start_mark, f"the document is nested more than {MAX_DEPTH} levels deep"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _Limit(
                        event.start_mark, f"the document has more than {MAX_NODES} values; it is too large"
                    )
    finally:
        loader.dispose()


def _reader_error_position(text: str, exc: yaml.YAMLError) -> tuple[int, int]:
    """ReaderError gives an offset: in characters from PyYAML's reader, in UTF-8 bytes from libyaml's."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return 1, 1
    if _LOADER is not yaml.SafeLoader:
        position = len(
            text.encode("utf-8", errors="surrogatepass")[:position].decode("utf-8", errors="ignore")
        )
    return _offset_to_position(text, position)


def _report_yaml_error(exc: yaml.MarkedYAMLError, sink: ErrorSink) -> None:
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "expected a single document in the stream":
        message = SECOND_DOCUMENT
    else:
        parts = [part for part in (exc.context, exc.problem) if part]
        message = "invalid YAML: " + ", ".join(parts)
    sink.at(mark if mark is not None else (1, 1), message)


def _offset_to_position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _inspect(root: Node, sink: ErrorSink) -> bool:
    """Check tags, duplicate keys, merge keys, cycles and the expanded size; False if unusable.

    Walks each distinct node once (aliases share nodes), iteratively, so a hostile file costs time
    proportional to its size, never to its expansion.
    """
    before = len(sink.errors)
    size: dict[int, int] = {}
    chars: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            in_progress.discard(key)
            size[key] = min(MAX_NODES + 1, 1 + sum(size[id(child)] for child in children(node)))
            own = len(node.value) if isinstance(node, ScalarNode) else 0
            chars[key] = min(MAX_EXPANDED_CHARS + 1, own + sum(chars[id(child)] for child in children(node)))
            continue
        if key in size:
            continue
        in_progress.add(key)
        _check_node(node, sink)
        stack.append((node, True))
        for child in children(node):
            if id(child) in in_progress:
                sink.at(child, "an alias refers to a node that contains it (recursive alias)")
                return False
            if id(child) not in size:
                stack.append((child, False))
    if size[id(root)] > MAX_NODES:
        sink.at(root, f"the document expands to more than {MAX_NODES} nodes through anchors and aliases")
        return False
    if chars[id(root)] > MAX_EXPANDED_CHARS:
        sink.at(
            root,
            f"the document expands to more than {MAX_EXPANDED_CHARS} characters through anchors and aliases",
        )
        return False
    return len(sink.errors) == before


def _check_node(node: Node, sink: ErrorSink) -> None:
    allowed = _SCALAR_TAGS if isinstance(node, ScalarNode) else _COLLECTION_TAGS
    if node.tag not in allowed:
        tag = "!!" + node.tag[len(TAG) :] if node.tag.startswith(TAG) else node.tag
        sink.at(node, f"unsupported YAML tag '{_short(tag)}'; pipeline files use plain YAML values")
    if isinstance(node, ScalarNode) and "\0" in node.value:
        # A "\0" escape: no process argument, environment value or database text can hold one.
        sink.at(node, "a value holds a NUL character (\\0), which pipeline values cannot contain")
    if not isinstance(node, MappingNode):
        return
    seen: dict[str, Node] = {}
    for key, value in node.value:
        if key.tag == MERGE:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            if not all(isinstance(source, MappingNode) for source in sources):
                sink.at(value, "a merge key '<<' expects a mapping or a list of mappings")
        elif not isinstance(key, ScalarNode):
            sink.at(key, f"expected a string key, got {describe(key)}")
        elif key.value in seen:
            first = seen[key.value].start_mark.line + 1
            # Shortened: an alias key repeats one long string, and each message would hold it whole.
            sink.at(key, f"duplicate key '{_short(key.value)}' (first defined on line {first}); keep only one")
        else:
            seen[key.value] = key


def mapping_entries(node: MappingNode) -> list[tuple[str, ScalarNode, Node]]:
    """(key text, key node, value node) of a mapping, with '<<' merge keys applied.

    Explicit keys win over merged ones, and earlier merge sources over later ones, as YAML 1.1 says.
    """
    explicit: list[tuple[str, ScalarNode, Node]] = []
    merged: list[tuple[str, ScalarNode, Node]] = []
    for key, value in node.value:
        if key.tag == MERGE:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(mapping_entries(source))
        elif isinstance(key, ScalarNode):
            explicit.append((key.value, key, value))
    taken = {name for name, _, _ in explicit}
    for entry in merged:
        if entry[0] not in taken:
            taken.add(entry[0])
            explicit.append(entry)
    return explicit


def describe(node: Node) -> str:
    """How a node reads in an error message ("got a mapping")."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {
        NULL: "nothing (null)",
        BOOL: f"a boolean ({node.value})",
        INT: f"a number ({node.value})",
        FLOAT: f"a number ({node.value})",
    }.get(node.tag, f"a string ('{_short(node.value)}')")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
