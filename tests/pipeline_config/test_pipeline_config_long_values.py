"""An error quoting a huge value stays readable: its position and the start and end of the quote."""

from __future__ import annotations

import pytest

from devops.pipeline_config.parser import PipelineConfigError, parse_pipeline

STEPS = """stages:
  - name: a
    steps:
      - runScriptConfig: {image: alpine, shellScript: "true"}
"""


@pytest.mark.parametrize(
    "text",
    [
        "timeout: " + "9" * 5000 + "\n" + STEPS,
        "timeout: '" + "x" * 100_000 + "'\n" + STEPS,
    ],
    ids=["5000-digit-number", "100k-string"],
)
def test_an_error_about_a_huge_value_is_short_and_keeps_its_position(text):
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text)
    (error,) = info.value.errors
    assert (error.line, error.column) == (1, 10)
    assert error.message.startswith("expected a positive number of minutes for 'timeout', got ")
    assert len(str(error)) < 500
    assert text[10:40] in error.message  # the start of the value is still quoted


def test_an_ordinary_error_is_left_whole():
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline("timeout: soon\n" + STEPS)
    (error,) = info.value.errors
    assert "left out" not in error.message
    assert "'soon'" in error.message or "soon" in error.message
