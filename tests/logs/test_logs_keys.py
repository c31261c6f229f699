"""Key naming and validation shared by every store and live buffer."""

from __future__ import annotations

import pytest

from devops.logs import log_key, validate_key
from devops.logs.keys import validate_prefix


def test_log_key_format():
    assert log_key("proj-1", "p-abc12", 7, 0, 2) == "proj-1/p-abc12/7/0-2.log"


@pytest.mark.parametrize(
    "project,pipeline",
    [
        ("a/b", "p"),
        ("..", "p"),
        ("p", "a..b"),
        ("", "p"),
        ("p", ""),
        ("p\n", "x"),
        ("p", "x\x00"),
        ("p", "x\x7f"),
        (".hidden", "p"),
        ("p", "a\\b"),
    ],
)
def test_log_key_rejects_bad_parts(project, pipeline):
    with pytest.raises(ValueError):
        log_key(project, pipeline, 1, 0, 0)


@pytest.mark.parametrize("run,stage,step", [(-1, 0, 0), (1, -1, 0), (1, 0, True), ("1", 0, 0)])
def test_log_key_rejects_bad_numbers(run, stage, step):
    with pytest.raises(ValueError):
        log_key("p", "q", run, stage, step)


def test_log_key_rejects_non_strings():
    with pytest.raises(TypeError):
        log_key(1, "q", 1, 0, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a\\b", "a/b/", "..", "a/\x00b", "a/.tmp"],
)
def test_validate_key_rejects(key):
    with pytest.raises(ValueError):
        validate_key(key)


def test_validate_prefix():
    assert validate_prefix("proj/") == "proj/"
    assert validate_prefix("proj/pipe/3/0-") == "proj/pipe/3/0-"
    for bad in ("", "/", "../", "a//"):
        with pytest.raises(ValueError):
            validate_prefix(bad)
