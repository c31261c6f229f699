"""In Chromium: the visual editor keeps the forms and the YAML in sync and shows errors with lines."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig:
          image: golang:1.22
          shellScript: go build ./...
"""


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_edit_stages_and_steps_see_the_yaml_change_and_errors_with_lines(
    open_page, people, make_repo, make_pipeline, shoot
) -> None:
    pipeline = make_pipeline(make_repo(PIPELINE, name="shop"), name="shop")
    pipeline.project.display_name = "Web shop"
    pipeline.project.save(update_fields=["display_name"])
    owner = people.user("dana")
    people.join(pipeline.project, owner, "owner")
    page = open_page(owner)
    page.goto(f"/pipelines/{pipeline.pk}/edit/")
    yaml = page.locator("#editor-yaml")
    errors = page.locator("#editor-errors li")
    expect(page.locator(".editor-stage")).to_have_count(1)
    expect(errors).to_have_count(0)

    # Forms -> YAML: a new stage, a step of another kind in it, a typed name.
    page.locator("#add-stage").click()
    expect(page.locator(".editor-stage")).to_have_count(2)
    expect(yaml).to_have_value(re.compile(r"name: Stage 2"))
    stage = page.locator('.editor-stage[data-stage="1"]')
    stage.locator("select[data-add-kind]").select_option("applyYamlConfig")
    stage.get_by_role("button", name="Add step").click()
    expect(stage.locator(".editor-step")).to_have_count(2)
    expect(yaml).to_have_value(re.compile(r"applyYamlConfig:\s+path: ./deploy.yaml"))
    page.locator('[data-path="stages.1.name"]').fill("Deploy")
    expect(yaml).to_have_value(re.compile(r"- name: Deploy\n"))
    expect(errors).to_have_count(0)

    # A broken field: the error names its line in the YAML, and the field is marked.
    image = page.locator('[data-path="stages.0.steps.0.runScriptConfig.image"]')
    image.fill("")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("image")
    line = int(errors.first.get_attribute("data-line"))
    assert "image:" in yaml.input_value().splitlines()[line - 1], (line, yaml.input_value())
    expect(errors.first).to_contain_text(re.compile(rf"line {line}\b"))
    expect(page.locator(".editor-step .field-invalid").first).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "editor", full_page=False)

    image.fill("golang:1.23")
    expect(errors).to_have_count(0)
    expect(yaml).to_have_value(re.compile(r"image: golang:1.23"))

    # YAML -> forms.
    yaml.fill(yaml.input_value().replace("name: Deploy", "name: Ship"))
    expect(page.locator('[data-path="stages.1.name"]')).to_have_value("Ship")
