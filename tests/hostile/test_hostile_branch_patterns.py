"""Branch patterns come from repositories and branch names from pushes: matching one against the other
must cost time proportional to their lengths, and no pattern may crash a trigger.

The patterns below made the old regex translation backtrack exponentially (40 s for 8 stars against
60 characters; 30 stars would never end) and a reversed range (``[z-a]``) raised ``re.error`` at
trigger time: an API run answered 500 and a webhook delivery failed with "internal error".
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devops.pipeline_config import BranchFilter, glob_match, parse_pipeline

BASE_DIR = Path(__file__).resolve().parents[2]
STEP = "stages:\n  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"


def test_many_stars_match_in_one_pass_over_the_name() -> None:
    """Run where a runaway would be killed (CPU limit) rather than hang the session: the result is what
    a correct matcher says, computed in the child. No timing is asserted; a backtracking matcher would
    need longer than the age of the universe, so the limit only turns a hang into a failure."""
    code = textwrap.dedent(
        """
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
        sys.path.insert(0, sys.argv[1])
        from devops.pipeline_config import BranchFilter
        name = "a" * 250
        print(json.dumps([
            BranchFilter(include=("*a" * 30 + "b",)).matches(name),
            BranchFilter(include=("**a" * 30 + "b",)).matches(name),
            BranchFilter(exclude=("*a" * 30 + "b",)).matches(name),
            BranchFilter(include=("*a" * 30,)).matches(name),
            BranchFilter(include=("*a/" * 20 + "b",)).matches("a/" * 20 + "b"),
        ]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(BASE_DIR)], capture_output=True, text=True, check=False, timeout=280
    )
    assert proc.returncode == 0, f"matcher killed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    assert json.loads(proc.stdout) == [False, False, True, True, True]


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("[z-a]", "m", False),  # a reversed range matches nothing (as fnmatch) instead of raising
        ("[!z-a]", "m", True),
        ("v[9-0]*", "v5.1", False),
        ("[a-]", "-", True),
        ("[!/]", "/", False),
    ],
)
def test_odd_character_sets_match_without_raising(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches


def test_a_file_with_a_reversed_range_filters_instead_of_crashing_the_trigger() -> None:
    spec = parse_pipeline('branch: {include: ["main", "rel-[9-0]"], exclude: ["[z-a]*"]}\n' + STEP)
    assert spec.branch == BranchFilter(include=("main", "rel-[9-0]"), exclude=("[z-a]*",))
    assert spec.should_run_for_branch("main") is True
    assert spec.should_run_for_branch("rel-5") is False
