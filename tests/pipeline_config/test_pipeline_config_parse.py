"""Valid pipeline files become the expected typed objects, and survive the snapshot round trip."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from devops.pipeline_config import (
    PIPELINE_FILE_NAMES,
    ApplyAppConfig,
    ApplyYamlConfig,
    BranchFilter,
    EnvFrom,
    Notification,
    PipelineSpec,
    Preload,
    PublishImageConfig,
    Recipient,
    RunScriptConfig,
    SourceCodeConfig,
    Stage,
    Step,
    TemplateDef,
    When,
    find_pipeline_file,
    parse_pipeline,
)

# The example of spec/pipeline-file.md, verbatim.
SPEC_EXAMPLE = """\
timeout: 60                      # minutes for the whole execution; default 60
branch:                          # which branches may run at all (same forms as `when.branch`)
  include: [main, "release/*"]
  exclude: ["wip/*"]
notification:                    # who hears about the result (Rancher form)
  recipients: [{recipient: "#builds", notifier: slack}]   # notifiers are configured by the operator
  condition: [Failed, Changed]   # final states, and/or Changed (state differs from the last run)
  message: "${CICD_GIT_REPO_NAME} ${CICD_GIT_BRANCH}: build finished"
template:                        # extension: expand a project-level template (see below)
  name: go-service
  params: {goVersion: "1.22"}
stages:
  - name: Test
    when:                        # stage runs only if every given constraint matches
      branch: main               # string, list, or {include: [...], exclude: [...]}, glob patterns
      event: [push, pull_request, tag, manual, image, cron]
    steps:                       # steps of one stage run in parallel
      - runScriptConfig:
          image: golang:1.22
          shellScript: |
            go vet ./...
            go test ./...
        env: {CGO_ENABLED: "0"}
        envFrom:                 # values from a project secret; never injected on pull_request events
          - {sourceName: codecov, sourceKey: token, targetKey: CODECOV_TOKEN}
        cache:                   # extension: paths kept between executions of this pipeline
          paths: [/root/.cache/go-build, /go/pkg/mod]
        timeout: 10              # extension: minutes for this step
        cpuRequest: 500m
        cpuLimit: "2"
        memoryRequest: 256Mi
        memoryLimit: 1Gi
        when: {event: push}
  - name: Publish
    cache: {paths: [/cache]}     # extension: stage-level default for its steps
    steps:
      - publishImageConfig:
          dockerfilePath: ./Dockerfile   # default ./Dockerfile
          buildContext: .                # default .
          tag: myorg/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}
          pushRemote: true               # false: push to the project's built-in registry
          registry: registry.example.com # must match a registry credential of the project
          preload:                       # extension: warm the image on nodes after the push
            nodes: [node-1, node-2]      # or selector: {node-type: app}; neither: all nodes
            parallelism: 10
  - name: Deploy
    steps:
      - applyYamlConfig:
          path: ./deploy/app.yaml        # or `content:` inline YAML
          namespace: production
      - applyAppConfig:                  # a Helm release
          chart: app
          repo: https://charts.example.com
          version: 1.4.2
          name: app
          targetNamespace: production
          values: {image.tag: "${CICD_GIT_COMMIT}"}
"""

GO_SERVICE = TemplateDef(
    name="go-service",
    body=textwrap.dedent(
        """\
        stages:
          - name: Lint
            steps:
              - runScriptConfig:
                  image: golang:${params.goVersion}
                  shellScript: golangci-lint run
        """
    ),
    params={"goVersion": "1.21"},
)

CLONE = Stage(name="Clone", steps=(Step(name="clone", kind="sourceCode", config=SourceCodeConfig()),))


def expected_spec_example() -> PipelineSpec:
    return PipelineSpec(
        timeout_minutes=60.0,
        branch=BranchFilter(include=("main", "release/*"), exclude=("wip/*",)),
        notification=Notification(
            recipients=(Recipient("#builds", "slack"),),
            condition=("Failed", "Changed"),
            message="${CICD_GIT_REPO_NAME} ${CICD_GIT_BRANCH}: build finished",
        ),
        stages=(
            CLONE,
            Stage(
                name="Lint",
                steps=(
                    Step(
                        name="script-1",
                        kind="runScript",
                        config=RunScriptConfig(image="golang:1.22", shell_script="golangci-lint run"),
                    ),
                ),
            ),
            Stage(
                name="Test",
                when=When(
                    branch=BranchFilter(include=("main",)),
                    event=("push", "pull_request", "tag", "manual", "image", "cron"),
                ),
                steps=(
                    Step(
                        name="script-1",
                        kind="runScript",
                        config=RunScriptConfig(
                            image="golang:1.22", shell_script="go vet ./...\ngo test ./...\n"
                        ),
                        env={"CGO_ENABLED": "0"},
                        env_from=(EnvFrom("codecov", "token", "CODECOV_TOKEN"),),
                        cache_paths=("/root/.cache/go-build", "/go/pkg/mod"),
                        timeout_minutes=10.0,
                        cpu_request="500m",
                        cpu_limit="2",
                        memory_request="256Mi",
                        memory_limit="1Gi",
                        when=When(event=("push",)),
                    ),
                ),
            ),
            Stage(
                name="Publish",
                steps=(
                    Step(
                        name="publish-1",
                        kind="publishImage",
                        config=PublishImageConfig(
                            tag="myorg/app:${CICD_GIT_BRANCH}-${CICD_GIT_COMMIT}",
                            push_remote=True,
                            registry="registry.example.com",
                            preload=Preload(nodes=("node-1", "node-2"), parallelism=10),
                        ),
                        cache_paths=("/cache",),
                    ),
                ),
            ),
            Stage(
                name="Deploy",
                steps=(
                    Step(
                        name="apply-yaml-1",
                        kind="applyYaml",
                        config=ApplyYamlConfig(path="./deploy/app.yaml", namespace="production"),
                    ),
                    Step(
                        name="apply-app-2",
                        kind="applyApp",
                        config=ApplyAppConfig(
                            chart="app",
                            repo="https://charts.example.com",
                            version="1.4.2",
                            name="app",
                            target_namespace="production",
                            values={"image.tag": "${CICD_GIT_COMMIT}"},
                        ),
                    ),
                ),
            ),
        ),
    )


def parse(text: str, **kwargs: object) -> PipelineSpec:
    return parse_pipeline(textwrap.dedent(text), **kwargs)  # type: ignore[arg-type]


def test_spec_example_parses_into_the_expected_objects() -> None:
    spec = parse_pipeline(SPEC_EXAMPLE, templates={"go-service": GO_SERVICE})
    assert spec == expected_spec_example()


def test_spec_example_round_trips_through_json() -> None:
    spec = parse_pipeline(SPEC_EXAMPLE.encode(), templates={"go-service": GO_SERVICE})
    snapshot = json.loads(json.dumps(spec.to_dict()))
    assert snapshot == spec.to_dict()
    rebuilt = PipelineSpec.from_dict(snapshot)
    assert rebuilt == spec
    assert rebuilt.to_dict() == spec.to_dict()
    assert isinstance(rebuilt.stages[2].steps[0].config, RunScriptConfig)


def test_from_dict_tolerates_snapshots_missing_optional_fields() -> None:
    minimal = {
        "stages": [
            {
                "name": "S",
                "steps": [{"name": "a", "kind": "runScript", "config": {"image": "i", "shell_script": "s"}}],
            }
        ]
    }
    spec = PipelineSpec.from_dict(minimal)
    assert spec.timeout_minutes == 60.0
    assert spec.stages[0].steps[0].env == {}


def test_clone_stage_added_when_first_step_is_not_source_code() -> None:
    spec = parse(
        """
        stages:
          - name: Build
            steps:
              - runScriptConfig: {image: alpine, shellScript: make}
        """
    )
    assert spec.stages[0] == CLONE
    assert [s.name for s in spec.stages] == ["Clone", "Build"]


def test_clone_stage_not_added_when_first_step_is_source_code() -> None:
    spec = parse(
        """
        stages:
          - name: clone
            steps:
              - sourceCodeConfig: {}
          - name: Build
            steps:
              - runScriptConfig: {image: alpine, shellScript: make}
        """
    )
    assert [s.name for s in spec.stages] == ["clone", "Build"]
    assert spec.stages[0].steps == (Step(name="clone", kind="sourceCode", config=SourceCodeConfig()),)


def test_clone_stage_name_made_unique() -> None:
    spec = parse("stages:\n- name: Clone\n  steps: [{runScriptConfig: {image: a, shellScript: b}}]\n")
    assert [s.name for s in spec.stages] == ["Clone-2", "Clone"]


def test_defaults_and_scalar_coercion() -> None:
    spec = parse(
        """
        timeout: 0.5
        stages:
          - name: Build
            steps:
              - publishImageConfig: {tag: "app:1"}
                env: {N: 1, F: 1.10, B: true, V: 010}
              - applyYamlConfig:
                  content: |
                    kind: ConfigMap
              - applyAppConfig:
                  chart: oci://ghcr.io/acme/app
                  name: app
                  targetNamespace: prod
                  answers: {image: {tag: "2", pullPolicy: Always}, replicas: 3}
        """
    )
    assert spec.timeout_minutes == 0.5
    publish, apply_yaml, apply_app = spec.stages[1].steps
    assert publish.config == PublishImageConfig(
        tag="app:1", dockerfile_path="./Dockerfile", build_context="."
    )
    assert publish.env == {"N": "1", "F": "1.10", "B": "true", "V": "010"}
    assert apply_yaml.config == ApplyYamlConfig(content="kind: ConfigMap\n")
    assert apply_app.config.values == {"image.tag": "2", "image.pullPolicy": "Always", "replicas": "3"}  # type: ignore[union-attr]
    assert apply_app.config.repo is None and apply_app.config.version is None  # type: ignore[union-attr]


def test_step_names_default_from_kind_and_position_and_stay_unique() -> None:
    spec = parse(
        """
        stages:
          - name: Build
            steps:
              - runScriptConfig: {image: a, shellScript: b}
                name: script-2
              - runScriptConfig: {image: a, shellScript: b}
              - publishImageConfig: {tag: "app:1"}
              - runScriptConfig: {image: a, shellScript: b}
                name: lint
        """
    )
    assert [step.name for step in spec.stages[1].steps] == ["script-2", "script-2-2", "publish-3", "lint"]


def test_stage_cache_is_the_default_for_its_steps() -> None:
    spec = parse(
        """
        stages:
          - name: Build
            cache: {paths: [/stage]}
            steps:
              - runScriptConfig: {image: a, shellScript: b}
              - runScriptConfig: {image: a, shellScript: b}
                cache: {paths: [/own, relative/dir]}
        """
    )
    assert [step.cache_paths for step in spec.stages[1].steps] == [("/stage",), ("/own", "relative/dir")]


def test_rancher_forms_are_accepted() -> None:
    spec = parse(
        """
        branch: main
        stages:
          - name: clone
            steps:
              - sourceCodeConfig:
          - name: Test
            when:
              branch: {include: [main, "feature/**"], exclude: feature/wip}
              event: {exclude: [pull_request, cron]}
            steps:
              - runScriptConfig: {image: a, shellScript: b}
                envFrom:
                  - {sourceName: s, sourceKey: TOKEN}
        """
    )
    assert spec.branch == BranchFilter(include=("main",))
    test = spec.stages[1]
    assert test.when == When(
        branch=BranchFilter(include=("main", "feature/**"), exclude=("feature/wip",)),
        event=("push", "tag", "manual", "image"),
    )
    assert test.steps[0].env_from == (EnvFrom("s", "TOKEN", "TOKEN"),)


def test_merge_keys_and_anchors_within_budget() -> None:
    spec = parse(
        """
        stages:
          - name: Build
            steps:
              - runScriptConfig: &script
                  image: golang:1.22
                  shellScript: make
              - runScriptConfig:
                  <<: *script
                  shellScript: make build
        """
    )
    first, second = spec.stages[1].steps
    assert first.config == RunScriptConfig(image="golang:1.22", shell_script="make")
    assert second.config == RunScriptConfig(image="golang:1.22", shell_script="make build")


def test_should_run_for_branch() -> None:
    spec = parse(
        'branch: {include: ["release/*"], exclude: [release/old]}\n'
        "stages: [{name: S, steps: [{runScriptConfig: {image: a, shellScript: b}}]}]\n"
    )
    assert spec.should_run_for_branch("release/1.0")
    assert not spec.should_run_for_branch("release/old")
    assert not spec.should_run_for_branch("main")
    assert not spec.should_run_for_branch(None)
    no_filter = parse("stages: [{name: S, steps: [{runScriptConfig: {image: a, shellScript: b}}]}]\n")
    assert no_filter.should_run_for_branch("anything") and no_filter.should_run_for_branch(None)


def test_bom_is_ignored() -> None:
    spec = parse_pipeline(
        "\ufeffstages: [{name: S, steps: [{runScriptConfig: {image: a, shellScript: b}}]}]\n".encode()
    )
    assert spec.stages[1].name == "S"


# --- discovery ---------------------------------------------------------------------------------


def test_pipeline_file_names_order() -> None:
    assert PIPELINE_FILE_NAMES == (
        ".devops.yml",
        ".devops.yaml",
        ".rancher-pipeline.yml",
        ".rancher-pipeline.yaml",
    )


@pytest.mark.parametrize(
    ("present", "found"),
    [
        ([], None),
        ([".rancher-pipeline.yaml"], ".rancher-pipeline.yaml"),
        ([".rancher-pipeline.yaml", ".rancher-pipeline.yml"], ".rancher-pipeline.yml"),
        ([".rancher-pipeline.yml", ".devops.yaml"], ".devops.yaml"),
        ([".devops.yaml", ".devops.yml", ".rancher-pipeline.yml"], ".devops.yml"),
    ],
)
def test_find_pipeline_file_order(tmp_path: Path, present: list[str], found: str | None) -> None:
    for name in present:
        (tmp_path / name).write_text("stages: []\n")
    result = find_pipeline_file(str(tmp_path))
    assert result == (None if found is None else tmp_path / found)


def test_find_pipeline_file_skips_directories(tmp_path: Path) -> None:
    (tmp_path / ".devops.yml").mkdir()
    (tmp_path / ".rancher-pipeline.yml").write_text("stages: []\n")
    assert find_pipeline_file(tmp_path) == tmp_path / ".rancher-pipeline.yml"
