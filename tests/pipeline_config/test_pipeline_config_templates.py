"""Project templates: only a template, template + own stages, parameters and their errors."""

from __future__ import annotations

import textwrap

import pytest

from devops.pipeline_config import (
    BranchFilter,
    PipelineConfigError,
    RunScriptConfig,
    TemplateDef,
    parse_pipeline,
)

GO = TemplateDef(
    name="go-service",
    body=textwrap.dedent(
        """\
        timeout: ${params.minutes}
        branch: main
        stages:
          - name: Test
            steps:
              - runScriptConfig:
                  image: golang:${params.goVersion}
                  shellScript: go test ${params.packages}
                timeout: ${params.minutes}
        """
    ),
    params={"goVersion": None, "packages": "./...", "minutes": "15"},
)
TEMPLATES = {"go-service": GO}
OWN_STAGE = "stages:\n  - name: Deploy\n    steps:\n      - applyYamlConfig: {path: deploy.yaml}\n"


def test_file_with_only_a_template_gets_its_stages() -> None:
    spec = parse_pipeline("template: {name: go-service, params: {goVersion: '1.22'}}\n", templates=TEMPLATES)
    assert [stage.name for stage in spec.stages] == ["Clone", "Test"]
    step = spec.stages[1].steps[0]
    assert step.config == RunScriptConfig(image="golang:1.22", shell_script="go test ./...")
    assert step.timeout_minutes == 15.0  # re-resolved as a number after filling
    assert spec.timeout_minutes == 15.0
    assert spec.branch == BranchFilter(include=("main",))


def test_template_and_stages_appends_own_stages_after_the_template() -> None:
    text = "template:\n  name: go-service\n  params: {goVersion: '1.22', packages: ./cmd/...}\n" + OWN_STAGE
    spec = parse_pipeline(text, templates=TEMPLATES)
    assert [stage.name for stage in spec.stages] == ["Clone", "Test", "Deploy"]
    assert spec.stages[1].steps[0].config.shell_script == "go test ./cmd/..."  # type: ignore[union-attr]


def test_own_top_level_settings_override_the_template() -> None:
    text = "timeout: 5\nbranch: dev\ntemplate: {name: go-service, params: {goVersion: '1.22'}}\n"
    spec = parse_pipeline(text, templates=TEMPLATES)
    assert spec.timeout_minutes == 5.0
    assert spec.branch == BranchFilter(include=("dev",))


def test_parameter_values_cannot_change_the_yaml_structure() -> None:
    text = (
        "template: {name: go-service, params: {goVersion: '1', packages: \"./x\\n    privileged: true\"}}\n"
    )
    spec = parse_pipeline(text, templates=TEMPLATES)
    assert spec.stages[1].steps[0].config.shell_script == "go test ./x\n    privileged: true"  # type: ignore[union-attr]


def test_template_short_form_and_escaped_placeholder() -> None:
    body = (
        "stages:\n- name: T\n  steps:\n  - runScriptConfig: {image: a, "
        "shellScript: 'echo $${params.x} ${X}'}\n"
    )
    spec = parse_pipeline("template: plain\n", templates={"plain": TemplateDef("plain", body, {})})
    assert spec.stages[1].steps[0].config.shell_script == "echo ${params.x} ${X}"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "templates", "line", "column", "fragment"),
    [
        pytest.param(
            "template: {name: go-servce}\n",
            TEMPLATES,
            1,
            18,
            "unknown template 'go-servce'; did you mean 'go-service'? (available: go-service)",
            id="unknown-template",
        ),
        pytest.param(
            "template: {name: go-service}\n",
            None,
            1,
            18,
            "unknown template 'go-service' (this project has no templates)",
            id="no-templates",
        ),
        pytest.param(
            "template: {name: go-service}\n",
            TEMPLATES,
            1,
            1,
            "template 'go-service' needs parameter 'goVersion' (it has no default)",
            id="missing-required-param",
        ),
        pytest.param(
            "template:\n  name: go-service\n  params: {packages: ./x}\n",
            TEMPLATES,
            3,
            3,
            "template 'go-service' needs parameter 'goVersion'",
            id="missing-param-points-at-params",
        ),
        pytest.param(
            "template:\n  name: go-service\n  params: {goVersion: '1', go_version: '2'}\n",
            TEMPLATES,
            3,
            28,
            "unknown parameter 'go_version' for template 'go-service'; did you mean 'goVersion'?",
            id="unknown-param",
        ),
        pytest.param(
            "template:\n  params: {goVersion: '1'}\n",
            TEMPLATES,
            1,
            1,
            "'template' is missing required key 'name'",
            id="template-without-name",
        ),
        pytest.param(
            "template: {name: go-service, params: [goVersion]}\n",
            TEMPLATES,
            1,
            38,
            "expected a mapping of parameter names to values for 'params', got a list",
            id="params-as-list",
        ),
    ],
)
def test_template_reference_errors(
    text: str, templates: dict[str, TemplateDef] | None, line: int, column: int, fragment: str
) -> None:
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text, templates=templates)
    errors = info.value.errors
    assert [(e.file, e.line, e.column) for e in errors] == [(".devops.yml", line, column)], str(info.value)
    assert fragment in errors[0].message


@pytest.mark.parametrize(
    ("body", "line", "column", "fragment"),
    [
        pytest.param(
            "stages:\n  - name: T\n    steps:\n      - runScriptConfig: {image: a, shelScript: b}\n",
            4,
            37,
            "unknown key 'shelScript' in runScriptConfig",
            id="error-in-body",
        ),
        pytest.param(
            "stages:\n  - name: T\n    steps:\n      - runScriptConfig: {image: '${params.imag}', "
            "shellScript: b}\n",
            4,
            34,
            "unknown parameter 'imag' in ${params.imag}",
            id="undeclared-param",
        ),
        pytest.param("timeout: 5\n", 1, 1, "template 'ci' is missing required key 'stages'", id="no-stages"),
        pytest.param(
            "template: other\nstages: [{name: T, steps: [{sourceCodeConfig: }]}]\n",
            1,
            1,
            "a template cannot use another template",
            id="nested-template",
        ),
        pytest.param("stages: [\n", 2, 1, "invalid YAML", id="yaml-error-in-body"),
        pytest.param(
            "timeout: ${params.image}\nstages: [{name: T, steps: [{sourceCodeConfig: {}}]}]\n",
            1,
            10,
            "expected a positive number of minutes for 'timeout', got a string ('alpine')",
            id="param-of-wrong-type",
        ),
    ],
)
def test_errors_inside_a_template_name_the_template(body: str, line: int, column: int, fragment: str) -> None:
    templates = {"ci": TemplateDef("ci", body, {"image": "alpine"})}
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline("template: {name: ci}\n", templates=templates)
    errors = info.value.errors
    assert [(e.file, e.line, e.column) for e in errors] == [("template:ci", line, column)], str(info.value)
    assert fragment in errors[0].message
    assert str(info.value).startswith(f"template:ci:{line}:{column}: ")


def test_duplicate_stage_across_template_and_file() -> None:
    text = (
        "template: {name: go-service, params: {goVersion: '1'}}\nstages:\n  - name: Test\n"
        "    steps: [{runScriptConfig: {image: a, shellScript: b}}]\n"
    )
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text, templates=TEMPLATES)
    (error,) = info.value.errors
    assert (error.file, error.line, error.column) == (".devops.yml", 3, 11)
    assert "duplicate stage name 'Test' (first at template:go-service, line 4)" in error.message


def test_template_with_clone_stage_keeps_it_first() -> None:
    body = "stages:\n- name: clone\n  steps: [{sourceCodeConfig: {}}]\n"
    spec = parse_pipeline("template: base\n" + OWN_STAGE, templates={"base": TemplateDef("base", body, {})})
    assert [stage.name for stage in spec.stages] == ["clone", "Deploy"]
