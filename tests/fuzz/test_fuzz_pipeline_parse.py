"""Generated pipeline files against the parser (issue 7, fuzzing).

Properties: a valid file becomes exactly the stages and steps it was generated with; any file at all
(mutated, random, noise) either parses into a sane pipeline or is refused with ``PipelineConfigError``
whose every error names the file and a line and column inside it. Nothing else may escape: the
webhook processing, the API's validation and the editor all parse untrusted files, and an unexpected
exception there is a 500 or a lost delivery instead of a message the user can act on.
"""

from __future__ import annotations

import json
import pickle
import re

from broken_files import BROKEN_FILES
from hypothesis import example, given, settings
from pipeline_files import RUN_BRANCH, RUN_EVENT, PipelineFile, pipeline_files

from devops.pipeline_config import PipelineConfigError, PipelineSpec, parse_pipeline

FUZZ = settings.get_profile("devops-fuzz")
FILENAME = ".rancher-pipeline.yml"
STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_YAML_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


@settings(FUZZ, max_examples=200)
@given(pipeline_files())
def test_a_valid_file_parses_into_the_stages_and_steps_it_was_generated_with(generated: PipelineFile):
    spec = parse_pipeline(generated.text, filename=FILENAME)

    clone = 0 if generated.starts_with_clone else 1
    assert len(spec.stages) == len(generated.stages) + clone
    first = spec.stages[0]
    assert first.steps[0].kind == "sourceCode" and len(first.steps) == 1
    assert spec.timeout_minutes == (60.0 if generated.timeout is None else float(generated.timeout))
    for stage, expected in zip(spec.stages[clone:], generated.stages, strict=True):
        assert stage.name == expected.name
        assert [step.kind for step in stage.steps] == [step.kind for step in expected.steps]
        for step, wanted in zip(stage.steps, expected.steps, strict=True):
            if wanted.name is not None:
                assert step.name == wanted.name
            assert step.env == wanted.env
            assert step.timeout_minutes == (None if wanted.timeout is None else float(wanted.timeout))
            if wanted.script is not None:
                assert step.config.shell_script == wanted.script
            runs = all(w is None or w.matches(RUN_BRANCH, RUN_EVENT) for w in (stage.when, step.when))
            assert runs == wanted.runs, (stage.when, step.when)
    assert_sane(spec)


SCRIPT_STEP = "stages:\n- name: a\n  steps:\n  - runScriptConfig: {image: x, shellScript: y}\n"


@settings(FUZZ, max_examples=800)
@given(BROKEN_FILES)
@example(b"stages:\n  - name: \xff\n")
@example("stages:\n\t- name: Test\n")
# Found by this test, fixed in devops/pipeline_config: numbers too large for a float (OverflowError) or
# for Python's int conversion (ValueError over 4300 digits) escaped the parser.
@example("timeout: " + "9" * 400 + "\nstages: []\n")
@example(SCRIPT_STEP + "    timeout: 0x" + "f" * 5000 + "\n")
@example(SCRIPT_STEP + '    cpuRequest: "1e' + "9" * 5000 + '"\n')
@example("stages:\n- name: a\n  steps:\n  - publishImageConfig: {tag: x, preload: {parallelism: " + "9" * 5000 + "}}\n")
# Found by this test, fixed: libyaml put problems at the end of a file without a final newline on a
# line after the last one ("2:1" for "{").
@example("{")
@example("---")
@example("stages: [{name: a, steps: [")
def test_any_file_is_accepted_sanely_or_refused_with_located_errors(text: str | bytes):
    try:
        spec = parse_pipeline(text, filename=FILENAME)
    except PipelineConfigError as exc:
        assert exc.errors, "a refusal without a single error"
        for error in exc.errors:
            assert error.file == FILENAME
            assert error.message.strip()
            assert inside(text, error.line, error.column), (error, text[:200])
        # Errors cross process boundaries (Celery results) as themselves.
        assert pickle.loads(pickle.dumps(exc)).errors == exc.errors
        return
    assert_sane(spec)


def assert_sane(spec: PipelineSpec) -> None:
    """What every accepted pipeline guarantees the engine, whatever the file looked like."""
    assert spec.stages and spec.stages[0].steps[0].kind == "sourceCode"
    assert spec.timeout_minutes > 0
    assert len({stage.name for stage in spec.stages}) == len(spec.stages)
    for stage in spec.stages:
        assert stage.steps, f"stage {stage.name!r} has no steps"
        names = [step.name for step in stage.steps]
        assert len(set(names)) == len(names), names
        assert all(STEP_NAME.fullmatch(name) for name in names), names
    # The engine stores the spec as JSON and rebuilds it: both must give the same pipeline.
    snapshot = json.loads(json.dumps(spec.to_dict(), allow_nan=False))
    assert PipelineSpec.from_dict(snapshot) == spec


def inside(text: str | bytes, line: int, column: int) -> bool:
    """Whether (line, column), both 1-based, is a position in the file or just after its end.

    Lines are counted the way YAML counts them (\\r, \\x85, \\u2028 and \\u2029 break lines too) or
    at newlines only, in characters or (for undecodable files) in bytes: a position that is inside
    under one of these readings is one an editor can show.
    """
    readings: list[list[str] | list[bytes]] = []
    if isinstance(text, bytes):
        readings.append(text.split(b"\n"))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
    if text:
        text = text.removeprefix("\ufeff")
        readings += [_YAML_BREAKS.split(text), text.split("\n")]
    else:
        readings.append([""])
    return any(1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1 for lines in readings)
