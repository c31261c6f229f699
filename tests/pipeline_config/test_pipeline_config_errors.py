"""Invalid pipeline files: each a mistake users really make, each pinned to its exact line and column.

The table is the contract for error quality: one error per file, at the offending key or value, with
a message that says what was expected. A change that moves a position or blurs a message fails here.
"""

from __future__ import annotations

import pickle
import textwrap

import pytest

from devops.pipeline_config import ConfigError, PipelineConfigError, parse_pipeline


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def step(body: str) -> str:
    """A one-stage, one-step file whose step (indented 6) holds ``body`` (written at column 1)."""
    return "stages:\n  - name: Test\n    steps:\n" + textwrap.indent(y(body), "      ")


SCRIPT = "- runScriptConfig:\n    image: golang:1.22\n    shellScript: go test ./...\n"

BOMB = y("""
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    stages: [*d, *d]
""")

CASES = [
    # --- the file as a whole --------------------------------------------------------------------
    pytest.param("", 1, 1, "the file is empty", id="empty-file"),
    pytest.param("# only a comment\n", 1, 1, "the file is empty", id="only-comments"),
    pytest.param(
        "- name: Test\n  steps: []\n", 1, 1, "expected a mapping at the top of the file", id="top-is-list"
    ),
    pytest.param(
        "timeout: 10\n---\nstages: []\n", 2, 1, "expected a single YAML document", id="two-documents"
    ),
    pytest.param("stages: [\n", 2, 1, "invalid YAML", id="unclosed-bracket"),
    pytest.param("stages:\n  - name: Test\n   steps: []\n", 3, 4, "invalid YAML", id="misindented-key"),
    pytest.param("stages:\n\t- name: Test\n", 2, 1, "invalid YAML", id="tab-indentation"),
    pytest.param(b"timeout: 10\nstages: \xe9\n", 2, 9, "not valid UTF-8 (byte 0xe9)", id="latin-1-bytes"),
    pytest.param("a: " + "x" * (1024 * 1024), 1, 1, "limited to 1048576 bytes", id="over-1-mib"),
    pytest.param(BOMB, 1, 1, "expands to more than 10000 nodes", id="yaml-bomb"),
    pytest.param("stages: " + "[" * 51 + "]" * 51 + "\n", 1, 58, "nested more than 50 levels", id="too-deep"),
    pytest.param("stages: &s [*s]\n", 1, 9, "recursive alias", id="recursive-alias"),
    pytest.param(
        "stages:\n  - name: Test\n    steps: !reference [.base, steps]\n",
        3,
        12,
        "unsupported YAML tag '!reference'",
        id="gitlab-reference-tag",
    ),
    pytest.param(
        "stages: !!python/object/apply:os.system [ls]\n",
        1,
        9,
        "unsupported YAML tag '!!python/object/apply:os.system'",
        id="python-tag",
    ),
    # --- top-level keys ---------------------------------------------------------------------------
    pytest.param(
        "stage:\n  - name: Test\n",
        1,
        1,
        "unknown key 'stage' in the pipeline file; did you mean 'stages'?",
        id="stage-typo",
    ),
    pytest.param("timeout: 30\n", 1, 1, "missing required key 'stages'", id="no-stages"),
    pytest.param("stages: []\n", 1, 9, "'stages' is empty", id="empty-stages"),
    pytest.param(
        "stages:\n  Test:\n    steps: []\n",
        2,
        3,
        "expected a list of stages for 'stages', got a mapping",
        id="stages-as-mapping",
    ),
    pytest.param(
        "timeout: 0\n" + step(SCRIPT),
        1,
        10,
        "expected a positive number of minutes for 'timeout', got 0",
        id="timeout-zero",
    ),
    pytest.param(
        "timeout: 1h\n" + step(SCRIPT),
        1,
        10,
        "positive number of minutes for 'timeout', got a string ('1h')",
        id="timeout-with-unit",
    ),
    pytest.param("timeout: -5\n" + step(SCRIPT), 1, 10, "got -5", id="timeout-negative"),
    pytest.param(
        "branch:\n  includes: [main]\n" + step(SCRIPT),
        2,
        3,
        "unknown key 'includes' in 'branch'; did you mean 'include'?",
        id="branch-includes-typo",
    ),
    pytest.param(
        "notification:\n  recipients: [{recipient: '#ci', notifier: slack}]\n  condition: [Failure]\n"
        + step(SCRIPT),
        3,
        15,
        "unknown condition 'Failure'; did you mean 'Failed'?",
        id="notification-condition",
    ),
    # --- stages -----------------------------------------------------------------------------------
    pytest.param(
        "stages:\n  - name: Test\n", 2, 5, "stage 'Test' has no 'steps'", id="stage-without-steps-key"
    ),
    pytest.param(
        "stages:\n  - name: Test\n    steps: []\n", 3, 12, "stage 'Test' has no steps", id="stage-empty-steps"
    ),
    pytest.param(
        "stages:\n  - steps:\n" + textwrap.indent(SCRIPT, "      "),
        2,
        5,
        "a stage is missing required key 'name'",
        id="stage-without-name",
    ),
    pytest.param(
        step(SCRIPT) + "  - name: Test\n    steps:\n" + textwrap.indent(SCRIPT, "      "),
        7,
        11,
        "duplicate stage name 'Test' (first at line 2)",
        id="duplicate-stage-name",
    ),
    pytest.param(
        "stages:\n  - name: Test\n    when: {event: [push, pull-request]}\n    steps:\n"
        + textwrap.indent(SCRIPT, "      "),
        3,
        26,
        "unknown event 'pull-request'; did you mean 'pull_request'?",
        id="event-with-dash",
    ),
    pytest.param(
        "stages:\n  - name: Test\n    when: {event: commit}\n    steps:\n"
        + textwrap.indent(SCRIPT, "      "),
        3,
        19,
        "valid events: push, pull_request, tag, manual, image, cron",
        id="event-unknown",
    ),
    pytest.param(
        "stages:\n  - name: Test\n    when: {branches: main}\n    steps:\n"
        + textwrap.indent(SCRIPT, "      "),
        3,
        12,
        "unknown key 'branches' in 'when'; did you mean 'branch'?",
        id="when-branches",
    ),
    # --- steps ------------------------------------------------------------------------------------
    pytest.param(step("- env: {A: b}\n"), 4, 9, "a step needs one kind", id="step-without-kind"),
    pytest.param(
        step("- runscriptConfig: {image: a, shellScript: b}\n"),
        4,
        9,
        "unknown key 'runscriptConfig' in a step; did you mean 'runScriptConfig'?",
        id="kind-typo",
    ),
    pytest.param(
        step("- runScriptConfig\n"),
        4,
        9,
        "expected a mapping for a step, got a string",
        id="step-missing-colon",
    ),
    pytest.param(
        step(SCRIPT + "  publishImageConfig: {tag: app:1}\n"),
        7,
        9,
        "has both runScriptConfig and publishImageConfig",
        id="two-kinds",
    ),
    pytest.param(
        step(SCRIPT + "  timout: 10\n"),
        7,
        9,
        "unknown key 'timout' in a step; did you mean 'timeout'?",
        id="step-key-typo",
    ),
    pytest.param(
        step("- runScriptConfig:\n    imgae: golang\n    shellScript: make\n"),
        5,
        11,
        "unknown key 'imgae' in runScriptConfig; did you mean 'image'?",
        id="image-typo",
    ),
    pytest.param(
        step("- runScriptConfig:\n    shellScript: make\n"),
        4,
        9,
        "runScriptConfig is missing required key 'image'",
        id="script-without-image",
    ),
    pytest.param(
        step("- runScriptConfig:\n    image: golang\n    shellScript:\n      - go vet\n      - go test\n"),
        7,
        13,
        "expected a string for 'shellScript', got a list; write the commands as a block string",
        id="script-as-list",
    ),
    pytest.param(
        step(SCRIPT + "- runScriptConfig:\n    image: node\n    image: node:20\n    shellScript: npm test\n"),
        9,
        11,
        "duplicate key 'image' (first defined on line 8)",
        id="duplicate-key",
    ),
    pytest.param(
        step("- publishCatalogConfig:\n    path: ./charts/app\n"),
        4,
        9,
        "publishCatalogConfig (Rancher catalogs) is not supported; deploy a Helm chart with applyAppConfig",
        id="publish-catalog",
    ),
    pytest.param(
        step(SCRIPT + "  privileged: true\n"), 7, 9, "privileged steps are not supported", id="privileged"
    ),
    pytest.param(
        step("- publishImageConfig:\n    dockerfilePath: ./Dockerfile\n"),
        4,
        9,
        "publishImageConfig is missing required key 'tag'",
        id="publish-without-tag",
    ),
    pytest.param(
        step("- publishImageConfig: {tag: 'app:1', pushRemote: 'yes please'}\n"),
        4,
        56,
        "expected true or false for 'pushRemote'",
        id="push-remote-not-bool",
    ),
    pytest.param(
        step("- applyYamlConfig:\n    path: deploy.yaml\n    content: 'kind: List'\n"),
        6,
        11,
        "takes either 'path' or 'content', not both",
        id="apply-yaml-both",
    ),
    pytest.param(
        step("- applyYamlConfig:\n    namespace: prod\n"),
        4,
        9,
        "applyYamlConfig needs 'path' (a file in the workspace) or 'content'",
        id="apply-yaml-neither",
    ),
    pytest.param(
        step("- applyYamlConfig:\n    content:\n      apiVersion: v1\n      kind: ConfigMap\n"),
        6,
        13,
        "expected a string for 'content', got a mapping; write the manifests as a block string",
        id="apply-yaml-content-mapping",
    ),
    pytest.param(
        step("- applyAppConfig: {chart: app, name: app}\n"),
        4,
        9,
        "applyAppConfig is missing required key 'targetNamespace'",
        id="apply-app-no-namespace",
    ),
    pytest.param(
        step(
            "- applyAppConfig: {catalogTemplate: 'cattle-global-data:library-app', name: app, "
            "targetNamespace: prod, chart: app}\n"
        ),
        4,
        26,
        "catalogTemplate refers to a Rancher catalog",
        id="apply-app-catalog-template",
    ),
    pytest.param(
        step(SCRIPT + "  env:\n    DB:\n      host: db\n"),
        9,
        13,
        "expected a string value for 'DB' in 'env', got a mapping",
        id="env-value-mapping",
    ),
    pytest.param(
        step(SCRIPT + "  env:\n    DEBUG:\n"),
        8,
        11,
        "expected a string value for 'DEBUG' in 'env', got nothing (null); write '' for an empty value",
        id="env-value-null",
    ),
    pytest.param(
        step(SCRIPT + "  env: {NODE-ENV: test}\n"),
        7,
        15,
        "'NODE-ENV' in 'env' is not a valid name",
        id="env-name-dash",
    ),
    pytest.param(
        step(SCRIPT + "  envFrom:\n    - {sourceName: codecov, targetKey: TOKEN}\n"),
        8,
        13,
        "an envFrom item is missing required key 'sourceKey'",
        id="env-from-missing-key",
    ),
    pytest.param(
        step(SCRIPT + "  envFrom: {sourceName: codecov, sourceKey: token}\n"),
        7,
        18,
        "expected a list of {sourceName, sourceKey, targetKey} for 'envFrom', got a mapping",
        id="env-from-mapping",
    ),
    pytest.param(
        step(SCRIPT + "  cache: [/go/pkg/mod]\n"),
        7,
        16,
        "expected a mapping for 'cache' (write cache: {paths: [...]}), got a list",
        id="cache-as-list",
    ),
    pytest.param(
        step(SCRIPT + "  cache: {paths: [/go/pkg/mod, ../shared]}\n"),
        7,
        38,
        "cache path '../shared' must not contain a '..' component",
        id="cache-dotdot",
    ),
    pytest.param(
        step(SCRIPT + "  cache: {paths: ['/cache/../../etc']}\n"),
        7,
        25,
        "must not contain a '..' component",
        id="cache-absolute-dotdot",
    ),
    pytest.param(
        step(SCRIPT + "  cache: {paths: ['']}\n"),
        7,
        25,
        "expected a non-empty string for a cache path",
        id="cache-empty-path",
    ),
    pytest.param(
        step(SCRIPT + "  cpuRequest: abc\n"),
        7,
        21,
        "'cpuRequest' expects a Kubernetes quantity such as 500m, 1 or 2.5, got 'abc'",
        id="cpu-abc",
    ),
    pytest.param(
        step(SCRIPT + "  memoryLimit: 1GB\n"),
        7,
        22,
        "'memoryLimit' expects a Kubernetes quantity",
        id="memory-gb",
    ),
    pytest.param(
        step(SCRIPT + "  memoryRequest: 2Gi\n  memoryLimit: 512Mi\n"),
        7,
        24,
        "memoryRequest 2Gi is more than memoryLimit 512Mi",
        id="request-above-limit",
    ),
    pytest.param(
        step(SCRIPT + "  timeout: 0.0\n"),
        7,
        18,
        "expected a positive number of minutes",
        id="step-timeout-zero",
    ),
    pytest.param(
        step(SCRIPT + "  name: unit tests\n"),
        7,
        15,
        "step name 'unit tests' must be 1-63 letters",
        id="step-name-space",
    ),
    pytest.param(
        step(SCRIPT + "  name: test\n" + SCRIPT + "  name: test\n"),
        11,
        15,
        "duplicate step name 'test' in stage 'Test' (first on line 7)",
        id="duplicate-step-name",
    ),
    pytest.param(
        step(SCRIPT) + "  - name: Again\n    steps:\n      - sourceCodeConfig: {}\n",
        9,
        9,
        "sourceCodeConfig may only be the first step of the first stage",
        id="clone-not-first",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "fragment"), CASES)
def test_invalid_file_reports_one_precise_error(
    text: str | bytes, line: int, column: int, fragment: str
) -> None:
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text, filename=".devops.yml")
    errors = info.value.errors
    assert [(e.line, e.column) for e in errors] == [(line, column)], str(info.value)
    assert fragment in errors[0].message, str(info.value)
    assert errors[0].file == ".devops.yml"


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 30


def test_all_errors_are_collected_not_just_the_first() -> None:
    text = step(
        """
        - runScriptConfig:
            image: golang
            shellScript: make
          cpuRequest: lots
          env: {A: {b: c}}
          when: {event: comit}
        """
    )
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text)
    assert [(e.line, e.column) for e in info.value.errors] == [(7, 21), (8, 18), (9, 23)]
    assert "comit" in info.value.errors[2].message


def test_error_string_is_file_line_column_message() -> None:
    error = ConfigError(".devops.yml", 3, 7, "unknown key 'x'")
    assert str(error) == ".devops.yml:3:7: unknown key 'x'"
    combined = PipelineConfigError([error, ConfigError("a.yml", 1, 1, "m")])
    assert str(combined) == ".devops.yml:3:7: unknown key 'x'\na.yml:1:1: m"
    assert isinstance(combined, ValueError)


def test_filename_is_used_in_errors() -> None:
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline("stages: []\n", filename=".rancher-pipeline.yml")
    assert str(info.value).startswith(".rancher-pipeline.yml:1:9: ")


def test_many_values_are_refused_before_composing() -> None:
    text = "stages:\n" + "  - {name: s, steps: [{runScriptConfig: {image: a, shellScript: b}}]}\n" * 3000
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text)
    assert "more than 10000 values" in str(info.value)


def test_columns_count_characters_not_bytes() -> None:
    text = "stages:\n  - name: Tést\n    steps:\n      - runScriptConfig: {image: ä, shellScript: ö, x: 1}\n"
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text)
    assert [(e.line, e.column) for e in info.value.errors] == [(4, 53)]


def test_empty_kind_value_points_at_its_key() -> None:
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(step("- runScriptConfig:\n"))
    (error,) = info.value.errors
    assert (error.line, error.column, error.message) == (
        4,
        9,
        "expected a mapping for runScriptConfig, got nothing (null)",
    )


def test_pipeline_config_error_pickles_with_its_errors() -> None:
    original = PipelineConfigError([ConfigError("f", 1, 2, "m")])
    copy = pickle.loads(pickle.dumps(original))
    assert copy.errors == original.errors
    assert str(copy) == "f:1:2: m"
