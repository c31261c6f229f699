"""Hostile pipeline files (huge, deeply nested, YAML bombs, recursive aliases, object tags, text no
process can carry): each rejected with its file:line:column error, never a crash, in bounded memory.

Each file is parsed by ``yaml_probe.py`` in a process of its own, which reports the outcome, the
errors and what the parse allocated (tracemalloc's peak, plus the growth of the resident set for what
libyaml allocates in C). No time is measured. ``python`` runs the same parse with PyYAML's pure-Python
loader, the fallback without libyaml, whose composer recurses once per nesting level.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("yaml_probe.py")
MiB = 1024 * 1024
MEMORY_BOUND = 200 * MiB  # generous: every case below stays under 25 MiB traced (the 20 MiB inputs)
TOO_BIG = "pipeline files are limited to 1048576 bytes (1 MiB)"
TOO_DEEP = "the document is nested more than 50 levels deep"
TOO_MANY_NODES = "the document expands to more than 10000 nodes through anchors and aliases"
RECURSIVE = "an alias refers to a node that contains it (recursive alias)"

# case -> (loaders, the first error exactly: file:line:column: message)
CASES = {
    "huge_bytes": (("libyaml",), f".devops.yml:1:1: the file is 24006146 bytes; {TOO_BIG}"),
    "huge_text": (("libyaml",), f".devops.yml:1:1: the file is 20971520 bytes; {TOO_BIG}"),
    "one_over_cap": (("libyaml",), f".devops.yml:1:1: the file is 1048577 bytes; {TOO_BIG}"),
    "deep_flow_sequences": (("libyaml", "python"), f".devops.yml:1:58: {TOO_DEEP}"),
    "deep_flow_mappings": (("libyaml", "python"), f".devops.yml:1:205: {TOO_DEEP}"),
    "deep_block_sequences": (("libyaml", "python"), f".devops.yml:2:99: {TOO_DEEP}"),
    "billion_laughs": (("libyaml", "python"), f".devops.yml:1:1: {TOO_MANY_NODES}"),
    "billion_laughs_in_place": (("libyaml", "python"), f".devops.yml:1:1: {TOO_MANY_NODES}"),
    "recursive_sequence": (("libyaml", "python"), f".devops.yml:1:9: {RECURSIVE}"),
    "recursive_mapping": (("libyaml", "python"), f".devops.yml:2:5: {RECURSIVE}"),
    "many_values": (("libyaml",), ".devops.yml:4:29986: the document has more than 10000 values; it is too large"),
    "alias_fanout": (
        ("libyaml",),
        ".devops.yml:1:1: the document expands to more than 4194304 characters through anchors and aliases",
    ),
    "alias_duplicate_keys": (
        ("libyaml",),
        f".devops.yml:6:13: duplicate key '{'K' * 37}...' (first defined on line 6); keep only one",
    ),
    "unpaired_surrogate": (
        ("libyaml", "python"),
        ".devops.yml:4:62: the text holds an unpaired surrogate (U+D800), which is not a character",
    ),
    "nul_escape": (
        ("libyaml", "python"),
        ".devops.yml:5:18: a value holds a NUL character (\\0), which pipeline values cannot contain",
    ),
}


def probe(case: str, loader: str, sentinel: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(PROBE), case, loader, str(sentinel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=280,
    )
    assert proc.returncode == 0, f"the probe died (exit {proc.returncode}): {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def assert_bounded(result: dict) -> None:
    assert result["traced_peak"] < MEMORY_BOUND, result
    assert result["rss_growth"] < MEMORY_BOUND, result


@pytest.mark.parametrize(
    ("case", "loader"), [(case, loader) for case, (loaders, _) in CASES.items() for loader in loaders]
)
def test_hostile_file_is_rejected_with_its_position_in_bounded_memory(case: str, loader: str, tmp_path: Path) -> None:
    result = probe(case, loader, tmp_path / "sentinel")
    assert result["outcome"] == "rejected", result
    assert result["errors"][0] == CASES[case][1]
    assert_bounded(result)


def test_repeated_long_keys_give_short_messages(tmp_path: Path) -> None:
    """2000 aliases of one 400 KB key: every duplicate is reported, each message without the whole key
    (they were 800 MB of messages, and as much again in an API answer)."""
    result = probe("alias_duplicate_keys", "libyaml", tmp_path / "sentinel")
    assert result["error_count"] == 2001  # 2000 duplicates + the expansion (2000 x 400 KB of text)
    assert result["message_chars"] < 1 * MiB


def test_a_file_of_exactly_the_cap_is_accepted(tmp_path: Path) -> None:
    """The boundary of the size cap: 1 MiB passes (so the rejection above is the cap, not the content)."""
    result = probe("at_cap", "libyaml", tmp_path / "sentinel")
    assert (result["outcome"], result["input_bytes"]) == ("accepted", MiB), result
    assert result["config_bytes"] < 4096
    assert_bounded(result)


def test_object_tags_construct_nothing(tmp_path: Path) -> None:
    """``!!python/object/apply:os.system`` would run a command under yaml.load: here it is a tag error,
    and the command's file never appears."""
    sentinel = tmp_path / "sentinel"
    result = probe("python_tags", "libyaml", sentinel)
    unsupported = "unsupported YAML tag '{}'; pipeline files use plain YAML values"
    assert result["errors"] == [
        ".devops.yml:4:26: " + unsupported.format("!!python/object/new:pathlib.Path"),
        ".devops.yml:2:11: " + unsupported.format("!!python/object/apply:os.system"),
    ]
    assert not sentinel.exists()
    assert list(tmp_path.iterdir()) == []
