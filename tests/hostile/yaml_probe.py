"""Parse one hostile pipeline file in a fresh process and report what it cost (run by test_hostile_yaml).

    python yaml_probe.py CASE LOADER SENTINEL  ->  one JSON line on stdout

A process of its own so the resident-set high-water mark (``ru_maxrss``) belongs to this one parse,
and so a runaway cannot take the test session with it. The input is built *before* measuring; what
is measured is parse_pipeline plus, when the file is accepted, the JSON the engine would store as the
execution's config (an accepted file that expands at that point is as harmful as a rejected one).
LOADER ``python`` swaps in PyYAML's pure-Python loader, the fallback where libyaml is missing (its
composer recurses once per nesting level).
"""

from __future__ import annotations

import json
import resource
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import yaml  # noqa: E402

from devops.pipeline_config import PipelineConfigError, parse_pipeline, yaml_nodes  # noqa: E402

MiB = 1024 * 1024
STEP = "      - runScriptConfig: {image: busybox, shellScript: 'true'}\n"
HEAD = "stages:\n  - name: s\n    steps:\n" + STEP


def build(case: str, sentinel: str) -> str | bytes:
    if case == "huge_bytes":  # 20 MiB of valid YAML, as a repository would hand it over
        units = (f"  - name: s{i}\n    steps:\n" + STEP for i in range(20 * MiB // 80))
        return ("stages:\n" + "".join(units)).encode()
    if case == "huge_text":  # the same through the API (text)
        return "stages:\n" + "  # padding\n" * (20 * MiB // 12)
    if case == "one_over_cap":
        return HEAD + "#" * (yaml_nodes.MAX_BYTES - len(HEAD)) + "\n"
    if case == "at_cap":
        return HEAD + "#" * (yaml_nodes.MAX_BYTES - len(HEAD) - 1) + "\n"
    if case == "deep_flow_sequences":
        return "stages: " + "[" * 100_000
    if case == "deep_flow_mappings":
        return "stages: " + "{a: " * 100_000
    if case == "deep_block_sequences":
        return "stages:\n" + "- " * 100_000 + "x\n"
    if case == "billion_laughs":  # the classic: 10^9 "lol"s from 9 anchors of 10 aliases each
        lines = ['a0: &a0 "lol"']
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
        return "\n".join(lines) + "\nstages:\n  - name: s\n    when:\n      branch: *a9\n    steps:\n" + STEP
    if case == "billion_laughs_in_place":  # anchors nested where a reader looks: env of a step
        env = ", ".join(f"E{i}: &e{i} [" + ", ".join([f"*e{i - 1}" if i else "lol"] * 10) + "]" for i in range(9))
        return HEAD + f"        env: {{{env}}}\n"
    if case == "recursive_sequence":
        return "stages: &a [*a]\n"
    if case == "recursive_mapping":
        return "stages:\n  - &s\n    name: s\n    steps: [*s]\n"
    if case == "alias_fanout":  # 900 KB of text, repeated by 300 aliases: a 1 MB file, 270 MB of config
        env = ", ".join(f"E{i}: *big" for i in range(300))
        text = HEAD.replace("shellScript: 'true'", 'shellScript: &big "' + "x" * 900_000 + '"')
        return text + f"        env: {{{env}}}\n"
    if case == "alias_duplicate_keys":  # one 400 KB key repeated 2000 times: each message held it whole
        keys = "".join("          *k : 1\n" for _ in range(2000))
        return HEAD + '        env:\n          ? &k "' + "K" * 400_000 + '"\n          : 1\n' + keys
    if case == "many_values":
        return "stages:\n  - name: s\n    when:\n      branch: [" + ", ".join(["b"] * 20_000) + "]\n    steps:\n" + STEP
    if case == "python_tags":
        return (
            "stages:\n  - name: !!python/object/apply:os.system ['touch " + sentinel + "']\n"
            "    steps:\n      - runScriptConfig: !!python/object/new:pathlib.Path ['" + sentinel + "']\n"
        )
    if case == "unpaired_surrogate":
        return HEAD.replace("'true'", "'echo \ud800'")
    if case == "nul_escape":
        return HEAD + '        env: {A: "x\\0y"}\n'
    raise SystemExit(f"unknown case {case}")


def main() -> None:
    case, loader, sentinel = sys.argv[1:4]
    if loader == "python":
        yaml_nodes._LOADER = yaml.SafeLoader
    data = build(case, sentinel)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    result: dict[str, object] = {"input_bytes": len(data)}
    try:
        spec = parse_pipeline(data)
        result["config_bytes"] = len(json.dumps(spec.to_dict()))
        result["outcome"] = "accepted"
    except PipelineConfigError as exc:
        result["outcome"] = "rejected"
        result["errors"] = [str(error) for error in exc.errors[:5]]
        result["error_count"] = len(exc.errors)
        result["message_chars"] = sum(len(str(error)) for error in exc.errors)
    except BaseException as exc:  # noqa: BLE001 - RecursionError, MemoryError...: what the test must see
        result["outcome"] = f"crashed: {type(exc).__name__}: {str(exc)[:300]}"
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result["traced_peak"] = peak
    result["rss_growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
