"""``parse_pipeline``: a pipeline file (and the template it names) to a :class:`PipelineSpec`.

Checks that span stages live here: unique stage names (the template's and the file's together),
where a ``sourceCodeConfig`` step may appear, and adding the implicit ``Clone`` stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yaml.nodes import MappingNode

from .conditions import BranchFilter
from .errors import ErrorSink, PipelineConfigError
from .model import Notification, PipelineSpec, SourceCodeConfig, Stage, Step
from .read_conditions import read_branch, read_notification
from .schema import Fields, Reader
from .stages import StageDraft, read_stages
from .templates import TemplateDef, render_template, resolve_template
from .yaml_nodes import compose, decode

TOP_KEYS = ("timeout", "branch", "notification", "template", "stages")
DEFAULT_TIMEOUT_MINUTES = 60.0
CLONE_STAGE = "Clone"


@dataclass
class _Document:
    """What one file (the repository's, or a rendered template) says; None means "not given"."""

    timeout: float | None = None
    branch: BranchFilter | None = None
    notification: Notification | None = None
    stages: list[StageDraft] | None = None


def parse_pipeline(
    text: str | bytes, *, filename: str = ".devops.yml", templates: Mapping[str, TemplateDef] | None = None
) -> PipelineSpec:
    """Parse and validate a pipeline file; raise :class:`PipelineConfigError` with every problem found."""
    sink = ErrorSink(filename)
    decoded = decode(text, sink)
    root = None if decoded is None else compose(decoded, sink)
    if root is None:
        raise PipelineConfigError(sink.errors)
    reader = Reader(sink)
    own, fields = _read_document(reader, root, "the pipeline file", allow_template=True)
    base = _Document()
    if fields is not None and "template" in fields:
        base = _read_template(reader, fields, templates) or base
    elif fields is not None and "stages" not in fields and not fields.misspelled("stages"):
        reader.error(root, "the pipeline file is missing required key 'stages' (the list of stages to run)")
    drafts = (base.stages or []) + (own.stages or [])
    _check_stages(drafts)
    if sink.has_errors():
        raise PipelineConfigError(
            sorted(sink.errors, key=lambda e: (e.file != filename, e.file, e.line, e.column))
        )
    return PipelineSpec(
        timeout_minutes=own.timeout or base.timeout or DEFAULT_TIMEOUT_MINUTES,
        branch=own.branch or base.branch,
        notification=own.notification or base.notification,
        stages=_with_clone([draft.stage for draft in drafts]),
    )


def _read_document(
    reader: Reader, root: MappingNode, what: str, *, allow_template: bool
) -> tuple[_Document, Fields | None]:
    rejected = None if allow_template else {"template": "a template cannot use another template"}
    fields = reader.fields(
        root, what, TOP_KEYS if allow_template else TOP_KEYS[:3] + TOP_KEYS[4:], rejected=rejected
    )
    document = _Document()
    if fields is None:
        return document, None
    if (node := fields.value("timeout")) is not None:
        document.timeout = reader.number(node, "'timeout'")
    if (node := fields.value("branch")) is not None:
        document.branch = read_branch(reader, node)
    if (node := fields.value("notification")) is not None:
        document.notification = read_notification(reader, node)
    if (node := fields.value("stages")) is not None:
        document.stages = read_stages(reader, node, allow_empty="template" in fields)
    return document, fields


def _read_template(
    reader: Reader, fields: Fields, templates: Mapping[str, TemplateDef] | None
) -> _Document | None:
    resolved = resolve_template(reader, fields.key("template"), fields.at("template"), templates)
    if resolved is None:
        return None
    template, values = resolved
    rendered = render_template(template, values, reader.sink)
    if rendered is None:
        return None
    template_root, template_reader = rendered
    what = f"template '{template.name}'"
    document, template_fields = _read_document(template_reader, template_root, what, allow_template=False)
    if (
        template_fields is not None
        and "stages" not in template_fields
        and not template_fields.misspelled("stages")
    ):
        template_reader.error(template_root, f"template '{template.name}' is missing required key 'stages'")
    return document


def _check_stages(drafts: list[StageDraft]) -> None:
    """Stage names unique across template and file; sourceCodeConfig only as the very first step."""
    seen: dict[str, StageDraft] = {}
    for draft in drafts:
        first = seen.get(draft.stage.name)
        if first is None:
            seen[draft.stage.name] = draft
        else:
            where = f"line {first.name_node.start_mark.line + 1}"
            if first.reader.sink.file != draft.reader.sink.file:
                where = f"{first.reader.sink.file}, {where}"
            draft.reader.error(
                draft.name_node, f"duplicate stage name '{draft.stage.name}' (first at {where})"
            )
    for stage_index, draft in enumerate(drafts):
        for step_index, read in enumerate(draft.steps):
            if read.step.kind != "sourceCode":
                continue
            if stage_index or step_index:
                draft.reader.error(
                    read.kind_node,
                    "sourceCodeConfig may only be the first step of the first stage "
                    "(the clone is added there automatically when it is missing)",
                )
            elif len(draft.steps) > 1:
                other = draft.steps[1]
                draft.reader.error(
                    other.kind_node,
                    "the stage holding sourceCodeConfig may hold no other step: "
                    "the steps of a stage run at the same time, so move this one to a later stage",
                )


def _with_clone(stages: list[Stage]) -> tuple[Stage, ...]:
    """Put a Clone stage in front unless the first step already is the sourceCodeConfig step."""
    if not stages or (stages[0].steps and stages[0].steps[0].kind == "sourceCode"):
        return tuple(stages)
    names = {stage.name for stage in stages}
    name, counter = CLONE_STAGE, 2
    while name in names:
        name, counter = f"{CLONE_STAGE}-{counter}", counter + 1
    clone = Stage(name=name, steps=(Step(name="clone", kind="sourceCode", config=SourceCodeConfig()),))
    return (clone, *stages)
