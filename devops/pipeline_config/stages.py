"""Reading the ``stages`` list: each stage's name, ``when``, default ``cache`` and steps, and step names.

A step without ``name:`` gets one from its kind and 1-based position ("script-1", "publish-2";
the clone step is "clone"), made unique within the stage, because names key the step's log, its
container and its state record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from yaml.nodes import Node, SequenceNode

from .model import Stage, Step
from .read_conditions import read_when
from .schema import Reader
from .steps import ReadStep, read_cache_paths, read_step
from .yaml_nodes import describe

NAME_PREFIX = {
    "sourceCode": "clone",
    "runScript": "script",
    "publishImage": "publish",
    "applyYaml": "apply-yaml",
    "applyApp": "apply-app",
}
MAX_STAGE_NAME = 100
_BAD_STAGE_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass
class StageDraft:
    """A read stage with the nodes that checks across stages (and templates) point at."""

    stage: Stage
    name_node: Node
    steps: list[ReadStep]
    reader: Reader


def read_stages(reader: Reader, node: Node, *, allow_empty: bool) -> list[StageDraft] | None:
    if not isinstance(node, SequenceNode):
        reader.error(node, f"expected a list of stages for 'stages', got {describe(node)}")
        return None
    if not node.value and not allow_empty:
        reader.error(node, "'stages' is empty; a pipeline needs at least one stage")
        return None
    drafts = [read_stage(reader, item) for item in node.value]
    return [draft for draft in drafts if draft is not None]


def read_stage(reader: Reader, node: Node) -> StageDraft | None:
    fields = reader.fields(node, "a stage", ("name", "when", "cache", "steps"))
    if fields is None:
        return None
    before = len(reader.sink.errors)
    name_node = reader.require(fields, "name", "a stage", "a name such as Build or Test")
    name = None if name_node is None else reader.string(name_node, "the stage 'name'")
    if (
        name is not None
        and name_node is not None
        and (len(name) > MAX_STAGE_NAME or _BAD_STAGE_CHARS.search(name))
    ):
        reader.error(
            name_node,
            f"stage name '{name}' must be at most {MAX_STAGE_NAME} characters "
            "without '/', '\\' or control characters (it names the stage's logs)",
        )
    when_node, cache_node = fields.value("when"), fields.value("cache")
    when = None if when_node is None else read_when(reader, when_node)
    cache = None if cache_node is None else read_cache_paths(reader, cache_node)
    steps_node = fields.value("steps")
    reads: list[ReadStep] = []
    if steps_node is None:
        label = f"stage '{name}'" if name else "a stage"
        reader.error(fields.owner, f"{label} has no 'steps'; a stage needs a list of at least one step")
    elif not isinstance(steps_node, SequenceNode):
        reader.error(steps_node, f"expected a list of steps for 'steps', got {describe(steps_node)}")
    elif not steps_node.value:
        reader.error(steps_node, f"stage '{name}' has no steps; a stage needs at least one step")
    else:
        reads = [read for read in (read_step(reader, item) for item in steps_node.value) if read is not None]
    if len(reader.sink.errors) > before or name is None or name_node is None:
        return None
    steps = _name_steps(reader, name, reads, cache or ())
    return StageDraft(Stage(name=name, when=when, steps=steps), name_node, reads, reader)


def _name_steps(
    reader: Reader, stage: str, reads: list[ReadStep], cache: tuple[str, ...]
) -> tuple[Step, ...]:
    explicit: dict[str, Node] = {}
    for read in reads:
        name = read.step.name
        if name and name in explicit and read.name_node is not None:
            first = explicit[name].start_mark.line + 1
            reader.error(
                read.name_node, f"duplicate step name '{name}' in stage '{stage}' (first on line {first})"
            )
        elif name and read.name_node is not None:
            explicit[name] = read.name_node
    taken = set(explicit)
    steps = []
    for position, read in enumerate(reads, start=1):
        name = read.step.name
        if not name:
            base = "clone" if read.step.kind == "sourceCode" else f"{NAME_PREFIX[read.step.kind]}-{position}"
            name, counter = base, 2
            while name in taken:
                name, counter = f"{base}-{counter}", counter + 1
            taken.add(name)
        paths = read.step.cache_paths if read.has_cache else cache
        steps.append(replace(read.step, name=name, cache_paths=paths))
    return tuple(steps)
