"""Hypothesis strategies for pipeline files (spec/pipeline-file.md), each with what it must become.

``pipeline_files()`` builds structurally valid files from the spec's grammar and carries the
expectations an independent reader can state without running our parser: the stages and steps in
order, explicit names, env, timeouts, and, for files meant to run (``runnable=True``), which steps a
manual run on ``main`` executes and with which exit code. Broken files live in ``broken_files.py``.

Files are rendered with ``yaml.safe_dump`` in block, flow or mixed style, with varying indentation
and key order, so the parser sees the layouts people write, not one canonical form.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import yaml
from hypothesis import strategies as st

EVENTS = ("push", "pull_request", "tag", "manual", "image", "cron")
NOTIFY = ("Success", "Failed", "Aborted", "Changed")
RUN_EVENT, RUN_BRANCH = "manual", "main"  # what trigger(pipeline) runs: a manual run of main
# Branch globs with their answer for branch "main" written down by hand (an oracle independent of
# the product's glob code).
BRANCH_GLOBS = {
    "main": True,
    "ma*": True,
    "*n": True,
    "**": True,
    "m?in": True,
    "[mx]ain": True,
    "[!x]ain": True,
    "release/*": False,
    "main/*": False,
    "dev": False,
    "feature/**": False,
    "Main": False,
}

T = TypeVar("T")


class PlainNumber(str):
    """Text written as a plain YAML integer, for numbers Python will not print (over 4300 digits)."""


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


_Dumper.add_representer(PlainNumber, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:int", str(value)))
_TEXT_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
_STAGE_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="/\\")
_ALNUM = string.ascii_letters + string.digits
# Built once: strategies made inside composites are rebuilt (and validated) on every draw.
STEP_NAMES = st.builds(str.__add__, st.sampled_from(_ALNUM), st.text(_ALNUM + "_.-", max_size=20))
ENV_NAMES = st.builds(str.__add__, st.sampled_from(string.ascii_letters + "_"), st.text(_ALNUM + "_", max_size=15))
STAGE_NAMES = st.text(_STAGE_CHARS, min_size=1, max_size=100).filter(lambda s: s.strip())
PLAIN_STRINGS = st.text(_TEXT_CHARS, min_size=1, max_size=30).filter(lambda s: s.strip())
_LOWER = string.ascii_lowercase + string.digits
DNS_LABELS = st.one_of(
    st.sampled_from(_LOWER),
    st.builds(
        lambda a, b, c: a + b + c, st.sampled_from(_LOWER), st.text(_LOWER + "-", max_size=20), st.sampled_from(_LOWER)
    ),
)
IMAGES = st.sampled_from(["alpine", "alpine:3.20", "golang:1.22", "registry.example.com:5000/team/app:1.0", "busybox"])
TIMEOUTS = st.one_of(
    st.integers(1, 10**6),
    st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, 0.5, 2**63]),
)


@dataclass(frozen=True)
class ScriptLine:
    """One line of a generated shell script and what ``sh -e`` makes of it."""

    text: str
    exit_code: int | None  # None: the line succeeds and the script goes on
    stops: bool = False  # ``exit 0`` ends the script successfully


# Harmless, quick lines: the run test executes them on the worker host.
_GOOD_LINES = st.sampled_from(
    [
        ScriptLine("true", None),
        ScriptLine("echo hello", None),
        ScriptLine('echo "run $CICD_EXECUTION_ID of $CICD_GIT_REPO_NAME at $CICD_GIT_COMMIT"', None),
        ScriptLine("printf '%s\\n' 'héllo wörld ✓ 日本'", None),
        ScriptLine("sleep 0.1", None),
        ScriptLine("seq 1 500", None),
        ScriptLine("echo to stderr >&2", None),
        ScriptLine("test -f README.md", None),  # the clone put the repository in the workspace
    ]
)
_ECHO_LINES = st.text(st.sampled_from(string.ascii_letters + " ,.!-_" + "äöü✓"), max_size=40).map(
    lambda s: ScriptLine("echo '" + s + "'", None)
)
_ENDING_LINES = st.one_of(
    st.just(ScriptLine("false", 1)),
    st.just(ScriptLine("exit 0", 0, stops=True)),
    st.integers(1, 255).map(lambda n: ScriptLine(f"exit {n}", n)),
)


@st.composite
def script_line(draw: st.DrawFn) -> ScriptLine:
    """About one line in eight ends the script (most of those with a failure)."""
    if chance(draw, 8):
        return draw(_ENDING_LINES)
    return draw(_ECHO_LINES) if chance(draw, 4) else draw(_GOOD_LINES)


def script_exit_code(lines: list[ScriptLine]) -> int:
    for line in lines:
        if line.exit_code is not None:
            return line.exit_code
        if line.stops:
            return 0
    return 0


@dataclass(frozen=True)
class ExpectedStep:
    kind: str  # the model's kind: runScript, sourceCode, publishImage, applyYaml, applyApp
    name: str | None  # the explicit name, None when the parser names it
    env: dict[str, str]
    timeout: float | None
    runs: bool  # a manual run of main executes it (its own and its stage's `when` match)
    exit_code: int | None  # runScript: what the script exits with
    setup_fails: bool  # the local executor refuses it with a reason (a deploy step, a missing secret)
    sleeps: bool  # the script outlives its step timeout
    script: str | None = None  # runScript: the shellScript as written


@dataclass(frozen=True)
class ExpectedStage:
    name: str
    steps: tuple[ExpectedStep, ...]


@dataclass(frozen=True)
class PipelineFile:
    """A generated file: its text and what a correct parser must make of it."""

    text: str
    data: dict[str, Any] = field(repr=False)
    stages: tuple[ExpectedStage, ...] = field(repr=False)
    timeout: float | None = field(repr=False)
    starts_with_clone: bool = field(repr=False)

    def runs_clean(self) -> bool:
        """A manual run of main succeeds: no executed step fails, is refused or times out."""
        return not any(
            step.runs and (step.setup_fails or step.sleeps or step.exit_code not in (None, 0))
            for stage in self.stages
            for step in stage.steps
        )


# --- conditions ------------------------------------------------------------------------------------
def pick(draw: st.DrawFn, choices: Sequence[T]) -> T:
    """One of ``choices``; cheaper than a fresh ``sampled_from`` (strategies built in a composite are
    built and validated again on every draw, which made generation ten times slower)."""
    return choices[draw(st.integers(0, len(choices) - 1))]


def chance(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws: hypothesis favours a range's bounds, so test a middle value."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@st.composite
def string_or_list(draw: st.DrawFn, choices: tuple[str, ...]) -> str | list[str]:
    """Rancher's lone string or list of strings."""
    items = [pick(draw, choices) for _ in range(draw(st.integers(1, 3)))]
    return items[0] if len(items) == 1 and draw(st.booleans()) else items


GLOBS = tuple(sorted(BRANCH_GLOBS))
GLOB_VALUES = string_or_list(GLOBS)
EVENT_VALUES = string_or_list(EVENTS)
NOTIFY_VALUES = string_or_list(NOTIFY)


@st.composite
def branch_condition(draw: st.DrawFn) -> tuple[Any, bool]:
    """A branch constraint in one of Rancher's three forms, and whether ``main`` matches it."""
    if draw(st.booleans()):
        value = draw(GLOB_VALUES)
        return value, any(BRANCH_GLOBS[g] for g in _as_list(value))
    out: dict[str, Any] = {}
    form = draw(st.integers(0, 2))  # include, exclude, both
    if form != 1:
        out["include"] = draw(GLOB_VALUES)
    if form != 0:
        out["exclude"] = draw(GLOB_VALUES)
    matches = "include" not in out or any(BRANCH_GLOBS[g] for g in _as_list(out["include"]))
    return out, matches and not any(BRANCH_GLOBS[g] for g in _as_list(out.get("exclude", [])))


@st.composite
def event_condition(draw: st.DrawFn) -> tuple[Any, bool]:
    if draw(st.booleans()):
        value = draw(EVENT_VALUES)
        return value, RUN_EVENT in _as_list(value)
    out: dict[str, Any] = {"exclude": draw(EVENT_VALUES)}
    if draw(st.booleans()):
        out["include"] = draw(EVENT_VALUES)
    included = "include" not in out or RUN_EVENT in _as_list(out["include"])
    return out, included and RUN_EVENT not in _as_list(out["exclude"])


BRANCH_CONDITIONS = branch_condition()
EVENT_CONDITIONS = event_condition()


@st.composite
def when_condition(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """``when:`` with branch, event or both, and whether a manual run of main satisfies it."""
    out: dict[str, Any] = {}
    matches = True
    parts = pick(draw, [("branch",), ("event",), ("branch", "event")])
    if "branch" in parts:
        out["branch"], ok = draw(BRANCH_CONDITIONS)
        matches = matches and ok
    if "event" in parts:
        out["event"], ok = draw(EVENT_CONDITIONS)
        matches = matches and ok
    return out, matches


WHEN_CONDITIONS = when_condition()


# --- steps -----------------------------------------------------------------------------------------
# A YAML value for an env entry and the string the parser must keep (the file's own spelling).
ENV_VALUES = st.one_of(
    st.text(_TEXT_CHARS, max_size=30).map(lambda s: (s, s)),
    st.integers(-(10**6), 10**6).map(lambda n: (n, str(n))),
    st.booleans().map(lambda b: (b, "true" if b else "false")),
    st.just(("${CICD_GIT_BRANCH}-x", "${CICD_GIT_BRANCH}-x")),
)
ENVS = st.dictionaries(ENV_NAMES, ENV_VALUES, max_size=4)
CPU = (("100m", "500m"), ("250m", "1"), ("1", "2.5"), ("0.5", "2"))
MEMORY = (("64Mi", "128Mi"), ("256Mi", "1Gi"), ("512M", "1G"), ("1Gi", "2Gi"))
CACHE_PATHS = (["node_modules"], ["~/.cache/pip"], [".m2", "node_modules"])


@st.composite
def step_common(draw: st.DrawFn, runnable: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys every step may carry, and facts about them (env as read, timeout, runs, setup_fails)."""
    out: dict[str, Any] = {}
    facts: dict[str, Any] = {"env": {}, "timeout": None, "runs": True, "setup_fails": False, "name": None}
    if draw(st.booleans()):
        out["name"] = facts["name"] = draw(STEP_NAMES)
    if draw(st.booleans()):
        pairs = draw(ENVS)
        out["env"] = {k: yaml_value for k, (yaml_value, _) in pairs.items()}
        facts["env"] = {k: read for k, (_, read) in pairs.items()}
    if chance(draw, 30 if runnable else 5):
        # A secret the run's project does not have: the step must fail with a reason saying so.
        out["envFrom"] = [{"sourceName": "missing-secret", "sourceKey": "token", "targetKey": "TOKEN"}]
        facts["setup_fails"] = True
    if draw(st.booleans()):
        timeout = pick(draw, (1, 5, 0.5, 30)) if runnable else draw(TIMEOUTS)
        out["timeout"] = facts["timeout"] = timeout
    if not runnable and draw(st.booleans()):
        (cpu_low, cpu_high), (mem_low, mem_high) = pick(draw, CPU), pick(draw, MEMORY)
        out.update(cpuRequest=cpu_low, cpuLimit=cpu_high, memoryRequest=mem_low, memoryLimit=mem_high)
    if chance(draw, 4):
        out["cache"] = {"paths": pick(draw, CACHE_PATHS)}
    if chance(draw, 6 if runnable else 3):
        out["when"], facts["runs"] = draw(WHEN_CONDITIONS)
    return out, facts


COMMON = {runnable: step_common(runnable) for runnable in (False, True)}
SCRIPTS = st.lists(script_line(), min_size=1, max_size=3)


@st.composite
def run_script_step(draw: st.DrawFn, runnable: bool) -> tuple[dict[str, Any], ExpectedStep]:
    common, facts = draw(COMMON[runnable])
    lines = draw(SCRIPTS)
    sleeps = False
    if runnable and facts["timeout"] is None and chance(draw, 4):
        # Outlive a step timeout of 0.6 s: the step must end with a timeout reason.
        lines = [ScriptLine("sleep 5", None), *lines]
        common["timeout"] = facts["timeout"] = 0.01
        sleeps = True
    script = "\n".join(line.text for line in lines) + ("\n" if draw(st.booleans()) else "")
    step = {"runScriptConfig": {"image": draw(IMAGES), "shellScript": script}, **common}
    expected = ExpectedStep(
        "runScript", facts["name"], facts["env"], facts["timeout"], facts["runs"], script_exit_code(lines),
        facts["setup_fails"], sleeps, script,
    )  # fmt: skip
    return step, expected


@st.composite
def deploy_step(draw: st.DrawFn, runnable: bool) -> tuple[dict[str, Any], ExpectedStep]:
    """applyYamlConfig or applyAppConfig: valid, and refused with a reason by the local executor."""
    common, facts = draw(COMMON[runnable])
    if draw(st.booleans()):
        body: dict[str, Any] = {"content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
        if draw(st.booleans()):
            body = {"path": "./deploy/app.yaml"}
        if draw(st.booleans()):
            body["namespace"] = draw(DNS_LABELS)
        step, kind = {"applyYamlConfig": body}, "applyYaml"
    else:
        body = {"chart": "app", "name": draw(DNS_LABELS), "targetNamespace": draw(DNS_LABELS)}
        if draw(st.booleans()):
            body.update(repo="https://charts.example.com", version="1.10")
        if draw(st.booleans()):
            body["values"] = {"image": {"tag": "${CICD_GIT_COMMIT}"}, "replicas": 2}
        step, kind = {"applyAppConfig": body}, "applyApp"
    step.update(common)
    return step, ExpectedStep(kind, facts["name"], facts["env"], facts["timeout"], facts["runs"], None, True, False)


PRELOADS = (None, {"nodes": ["node-1", "node-2"]}, {"selector": {"node-type": "app"}, "parallelism": 3})


@st.composite
def publish_step(draw: st.DrawFn) -> tuple[dict[str, Any], ExpectedStep]:
    common, facts = draw(COMMON[False])
    body: dict[str, Any] = {"tag": "myorg/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}"}
    if draw(st.booleans()):
        body.update(dockerfilePath="./Dockerfile", buildContext=".")
    if draw(st.booleans()):
        body.update(pushRemote=True, registry="registry.example.com")
    if draw(st.booleans()):
        body["preload"] = pick(draw, PRELOADS)
    step = {"publishImageConfig": body, **common}
    return step, ExpectedStep("publishImage", facts["name"], facts["env"], facts["timeout"], facts["runs"], None,
                              True, False)  # fmt: skip


@st.composite
def runnable_step(draw: st.DrawFn) -> tuple[dict[str, Any], ExpectedStep]:
    return draw(deploy_step(True)) if chance(draw, 12) else draw(run_script_step(True))


# Mostly scripts; deploy steps (refused locally with a reason); publish steps only where nothing runs.
STEPS = {
    False: st.lists(
        st.one_of(run_script_step(False), run_script_step(False), deploy_step(False), publish_step()),
        min_size=1,
        max_size=3,
    ),
    True: st.lists(runnable_step(), min_size=1, max_size=3),
}


@st.composite
def stage(draw: st.DrawFn, name: str, runnable: bool) -> tuple[dict[str, Any], ExpectedStage]:
    steps = draw(STEPS[runnable])
    # Explicit step names must be unique within the stage: drop clashing ones (the parser names those).
    seen: set[str] = set()
    fixed = []
    for body, expected in steps:
        if expected.name is not None and expected.name in seen:
            body = {k: v for k, v in body.items() if k != "name"}
            expected = replace(expected, name=None)
        if expected.name is not None:
            seen.add(expected.name)
        fixed.append((body, expected))
    out: dict[str, Any] = {"name": name, "steps": [body for body, _ in fixed]}
    stage_runs = True
    if chance(draw, 8 if runnable else 4):
        out["when"], stage_runs = draw(WHEN_CONDITIONS)
    if chance(draw, 5):
        out["cache"] = {"paths": ["vendor"]}
    if not stage_runs:
        fixed = [(body, replace(expected, runs=False)) for body, expected in fixed]
    return _shuffled(draw, out, first="name"), ExpectedStage(name, tuple(e for _, e in fixed))


def _shuffled(draw: st.DrawFn, mapping: dict[str, Any], first: str | None = None) -> dict[str, Any]:
    keys = list(mapping)
    for i in range(len(keys) - 1, 0, -1):  # Fisher-Yates with drawn indices
        j = draw(st.integers(0, i))
        keys[i], keys[j] = keys[j], keys[i]
    if first is not None and first in mapping and draw(st.booleans()):
        keys = [first] + [k for k in keys if k != first]
    return {key: mapping[key] for key in keys}


CLONE = ExpectedStage("Clone", (ExpectedStep("sourceCode", None, {}, None, True, None, False, False),))
RUNNABLE_BRANCHES = ("main", ["main", "release/*"], {"include": ["**"]}, {"exclude": ["wip/*"]})


@st.composite
def pipeline_files(draw: st.DrawFn, *, runnable: bool = False, max_stages: int = 4) -> PipelineFile:
    """A valid pipeline file. ``runnable``: only steps the local executor runs quickly and harmlessly
    (scripts and refused deploy steps), short timeouts, no top-level branch filter that skips main."""
    names = draw(st.lists(STAGE_NAMES, min_size=1, max_size=max_stages, unique=True))
    stages = [draw(stage(name, runnable)) for name in names]
    starts_with_clone = chance(draw, 4) and "Clone" not in names
    if starts_with_clone:
        stages.insert(0, ({"name": "Clone", "steps": [{"sourceCodeConfig": pick(draw, ({}, None))}]}, CLONE))
    data: dict[str, Any] = {"stages": [body for body, _ in stages]}
    timeout = None
    if draw(st.booleans()):
        data["timeout"] = timeout = pick(draw, (5, 10, 60)) if runnable else draw(TIMEOUTS)
    if chance(draw, 4):
        data["branch"] = pick(draw, RUNNABLE_BRANCHES) if runnable else draw(BRANCH_CONDITIONS)[0]
    if chance(draw, 4):
        data["notification"] = {
            "recipients": [{"recipient": draw(PLAIN_STRINGS), "notifier": pick(draw, ("slack", "email"))}],
            "condition": draw(NOTIFY_VALUES),
        }
        if draw(st.booleans()):
            data["notification"]["message"] = "${CICD_GIT_REPO_NAME} ${CICD_GIT_BRANCH}: build finished"
    data = _shuffled(draw, data)
    text = render(draw, data)
    return PipelineFile(text, data, tuple(expected for _, expected in stages), timeout, starts_with_clone)


def render(draw: st.DrawFn, data: dict[str, Any]) -> str:
    """YAML text in one of the layouts people write: block, flow or mixed, 2-4 spaces, any width."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=pick(draw, (False, None, True)),
        indent=draw(st.integers(2, 4)),
        width=pick(draw, (40, 80, 10_000)),
        allow_unicode=draw(st.booleans()),
        explicit_start=draw(st.booleans()),
    )
