"""Reading ``branch``, ``when`` and ``notification`` from nodes, in every form Rancher accepted.

Rancher's constraints take a string, a list, or ``{include, exclude}``; files written for Rancher
must keep working, so all three forms are read here for branches and events alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .conditions import EVENTS, BranchFilter, When
from .model import NOTIFY_CONDITIONS, Notification, Recipient
from .schema import Reader
from .yaml_nodes import NULL, describe


def _items(reader: Reader, node: Node, what: str) -> list[Node] | None:
    """The nodes of a string-or-list value, each checked to be a non-empty string."""
    items = node.value if isinstance(node, SequenceNode) else [node]
    if isinstance(node, MappingNode) or (isinstance(node, ScalarNode) and node.tag == NULL):
        reader.error(node, f"expected a string or a list of strings for {what}, got {describe(node)}")
        return None
    if not items:
        reader.error(node, f"expected at least one value for {what}, got an empty list")
        return None
    good = [item for item in items if reader.string(item, f"an item of {what}") is not None]
    return good if len(good) == len(items) else None


def _include_exclude(reader: Reader, node: Node, what: str) -> tuple[list[Node], list[Node]] | None:
    if not isinstance(node, MappingNode):
        items = _items(reader, node, what)
        return None if items is None else (items, [])
    fields = reader.fields(node, what, ("include", "exclude"))
    if fields is None:
        return None
    if not fields.entries and not fields.unknown:
        reader.error(node, f"{what} needs 'include', 'exclude' or both")
        return None
    parts: list[list[Node]] = []
    for name in ("include", "exclude"):
        value = fields.value(name)
        items = [] if value is None else _items(reader, value, f"'{name}' of {what}")
        if items is None:
            return None
        parts.append(items)
    return parts[0], parts[1]


def read_branch(reader: Reader, node: Node, what: str = "'branch'") -> BranchFilter | None:
    parts = _include_exclude(reader, node, what)
    if parts is None:
        return None
    include, exclude = parts
    return BranchFilter(include=tuple(n.value for n in include), exclude=tuple(n.value for n in exclude))


def _known(reader: Reader, items: list[Node], valid: Sequence[str], kind: str) -> tuple[str, ...] | None:
    ok = True
    for item in items:
        if item.value not in valid:
            close = difflib.get_close_matches(item.value, valid, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            reader.error(item, f"unknown {kind} '{item.value}'{hint} (valid {kind}s: {', '.join(valid)})")
            ok = False
    return tuple(dict.fromkeys(item.value for item in items)) if ok else None


def read_events(reader: Reader, node: Node) -> tuple[str, ...] | None:
    """Events as an include list; Rancher's ``{exclude: [...]}`` becomes "every other event"."""
    parts = _include_exclude(reader, node, "'event'")
    if parts is None:
        return None
    include = _known(reader, parts[0], EVENTS, "event")
    exclude = _known(reader, parts[1], EVENTS, "event")
    if include is None or exclude is None:
        return None
    chosen = include if parts[0] else EVENTS
    return tuple(event for event in chosen if event not in exclude)


def read_when(reader: Reader, node: Node) -> When | None:
    """A ``when`` without constraints is the same as none, so it reads as None."""
    fields = reader.fields(node, "'when'", ("branch", "event"))
    if fields is None:
        return None
    branch_node, event_node = fields.value("branch"), fields.value("event")
    branch = None if branch_node is None else read_branch(reader, branch_node, "'branch' of 'when'")
    event = None if event_node is None else read_events(reader, event_node)
    if branch is None and event is None:
        return None
    return When(branch=branch, event=event)


def read_notification(reader: Reader, node: Node) -> Notification | None:
    fields = reader.fields(node, "'notification'", ("recipients", "condition", "message"))
    if fields is None:
        return None
    recipients: list[Recipient] = []
    ok = True
    recipients_node = reader.require(fields, "recipients", "'notification'", "who to notify")
    if recipients_node is not None and not isinstance(recipients_node, SequenceNode):
        reader.error(
            recipients_node,
            f"expected a list of recipients for 'recipients', got {describe(recipients_node)}",
        )
        ok = False
    elif recipients_node is not None:
        if not recipients_node.value:
            reader.error(recipients_node, "expected at least one recipient, got an empty list")
            ok = False
        for item in recipients_node.value:
            recipient = _read_recipient(reader, item)
            if recipient is None:
                ok = False
            else:
                recipients.append(recipient)
    condition: tuple[str, ...] | None = None
    condition_node = reader.require(
        fields, "condition", "'notification'", "one or more of " + ", ".join(NOTIFY_CONDITIONS)
    )
    if condition_node is not None:
        items = _items(reader, condition_node, "'condition'")
        condition = None if items is None else _known(reader, items, NOTIFY_CONDITIONS, "condition")
    message = reader.optional_string(fields, "message", "'message'")
    if not ok or condition is None or ("message" in fields and message is None):
        return None
    return Notification(recipients=tuple(recipients), condition=condition, message=message)


def _read_recipient(reader: Reader, node: Node) -> Recipient | None:
    fields = reader.fields(node, "a notification recipient", ("recipient", "notifier"))
    if fields is None:
        return None
    values = []
    for name, meaning in (
        ("recipient", "e.g. a channel or an address"),
        ("notifier", "which notifier sends it"),
    ):
        value_node = reader.require(fields, name, "a notification recipient", meaning)
        values.append(None if value_node is None else reader.string(value_node, f"'{name}'"))
    recipient, notifier = values
    return None if recipient is None or notifier is None else Recipient(recipient, notifier)
