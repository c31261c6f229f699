"""Branch globs, branch filters in every form, events, and ${VAR} substitution."""

from __future__ import annotations

import pytest

from devops.pipeline_config import (
    EVENTS,
    BranchFilter,
    PipelineConfigError,
    When,
    glob_match,
    parse_pipeline,
    substitute,
)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("main", "main", True),
        ("main", "main2", False),
        ("main", "xmain", False),
        ("release/*", "release/1.0", True),
        ("release/*", "release/", True),
        ("release/*", "release/1.0/hotfix", False),
        ("release/*", "release", False),
        ("release/**", "release/1.0/hotfix", True),
        ("**", "feature/a/b", True),
        ("*", "feature/a", False),
        ("*", "main", True),
        ("feature-*", "feature-login", True),
        ("v?.x", "v1.x", True),
        ("v?.x", "v10.x", False),
        ("v[0-9].*", "v3.1", True),
        ("v[!0-9].*", "vx.1", True),
        ("v[!0-9].*", "v3.1", False),
        ("release.1", "releasex1", False),
        ("a+b", "a+b", True),
        ("[unclosed", "[unclosed", True),
    ],
)
def test_glob_match(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches


@pytest.mark.parametrize(
    ("branch_filter", "branch", "matches"),
    [
        (BranchFilter(include=("main",)), "main", True),
        (BranchFilter(include=("main",)), "dev", False),
        (BranchFilter(include=("main", "release/*")), "release/2", True),
        (BranchFilter(exclude=("wip/*",)), "feature", True),
        (BranchFilter(exclude=("wip/*",)), "wip/x", False),
        (BranchFilter(include=("**",), exclude=("wip/*",)), "wip/x", False),
        (BranchFilter(include=("feature/**",), exclude=("feature/old/**",)), "feature/new/a", True),
        (BranchFilter(include=("feature/**",), exclude=("feature/old/**",)), "feature/old/a", False),
        (BranchFilter(), "anything", True),
        (BranchFilter(include=("main",)), None, False),
        (BranchFilter(exclude=("wip",)), None, False),
    ],
)
def test_branch_filter(branch_filter: BranchFilter, branch: str | None, matches: bool) -> None:
    assert branch_filter.matches(branch) is matches


def when_of(when_yaml: str) -> When | None:
    text = (
        "stages:\n  - name: S\n    when: " + when_yaml + "\n"
        "    steps: [{runScriptConfig: {image: a, shellScript: b}}]\n"
    )
    return parse_pipeline(text).stages[1].when


@pytest.mark.parametrize(
    ("when_yaml", "branch", "event", "matches"),
    [
        ("{branch: main}", "main", "push", True),
        ("{branch: main}", "dev", "push", False),
        ("{branch: [main, dev]}", "dev", "push", True),
        ("{branch: [main, dev]}", "qa", "push", False),
        ("{branch: {include: ['release/*'], exclude: [release/old]}}", "release/new", "push", True),
        ("{branch: {include: ['release/*'], exclude: [release/old]}}", "release/old", "push", False),
        ("{branch: {exclude: 'wip/**'}}", "wip/a/b", "push", False),
        ("{branch: {exclude: 'wip/**'}}", "main", "push", True),
        ("{event: push}", "main", "push", True),
        ("{event: push}", "main", "pull_request", False),
        ("{event: [tag, manual]}", None, "tag", True),
        ("{event: [tag, manual]}", "main", "cron", False),
        ("{event: {exclude: [pull_request]}}", "main", "image", True),
        ("{event: {exclude: [pull_request]}}", "main", "pull_request", False),
        ("{event: {include: [push, tag], exclude: [tag]}}", "main", "tag", False),
        ("{branch: main, event: push}", "main", "push", True),
        ("{branch: main, event: push}", "main", "manual", False),
        ("{branch: main, event: push}", "dev", "push", False),
        ("{branch: main, event: tag}", None, "tag", False),
    ],
)
def test_when_forms_and_matching(when_yaml: str, branch: str | None, event: str, matches: bool) -> None:
    when = when_of(when_yaml)
    assert when is not None
    assert when.matches(branch, event) is matches


def test_when_without_constraints_is_none() -> None:
    assert when_of("{}") is None


def test_when_without_event_constraint_matches_every_event() -> None:
    when = When(branch=BranchFilter(include=("main",)))
    assert all(when.matches("main", event) for event in EVENTS)


def test_invalid_event_lists_the_valid_ones() -> None:
    with pytest.raises(PipelineConfigError) as info:
        when_of("{event: [push, merge_request]}")
    (error,) = info.value.errors
    assert (error.line, error.column) == (3, 26)
    assert "unknown event 'merge_request'" in error.message
    assert "push, pull_request, tag, manual, image, cron" in error.message


def test_branch_filter_rejects_empty_forms() -> None:
    with pytest.raises(PipelineConfigError) as info:
        when_of("{branch: []}")
    assert "expected at least one value for 'branch' of 'when', got an empty list" in str(info.value)
    with pytest.raises(PipelineConfigError) as info:
        when_of("{branch: {}}")
    assert "needs 'include', 'exclude' or both" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "1"),
        ("x-${A}-${B}-y", "x-1-two-y"),
        ("${UNKNOWN}", "${UNKNOWN}"),
        ("${A}${UNKNOWN}", "1${UNKNOWN}"),
        ("$${A}", "${A}"),
        ("$A and ${ A }", "$A and ${ A }"),
        ("${params.x}", "P"),
        ("no vars", "no vars"),
        ("${}", "${}"),
        ("${A", "${A"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, {"A": "1", "B": "two", "params.x": "P"}) == expected


def test_substitute_is_single_pass() -> None:
    assert substitute("${A}", {"A": "${B}", "B": "no"}) == "${B}"
