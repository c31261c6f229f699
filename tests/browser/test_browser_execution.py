"""In Chromium, with the real worker running the steps: add a pipeline, run it, follow it live, abort.

The issue's bar is measured here: a line a running step prints must be visible in the open execution
page within 2 s. The step waits for a file the test creates once the page is following its log, then
prints the wall-clock time it printed the line at; the test reads the clock as soon as the line shows.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

LIVE_BAR_SECONDS = 2.0

PIPELINE = """\
stages:
  - name: Build
    steps:
      - name: compile
        runScriptConfig:
          image: golang:1.22
          shellScript: |
            echo "go build ./... (waiting for the test's signal)"
            for i in $(seq 600); do [ -e GO_FILE ] && break; sleep 0.05; done
            echo "signal seen at $(date +%s.%N)"
            printf '\\033[32mok\\033[0m   example.com/shop/cart    0.412s\\n'
            printf '\\033[32mok\\033[0m   example.com/shop/orders  0.233s\\n'
      - name: lint
        runScriptConfig:
          image: golangci/golangci-lint:v1.59
          shellScript: echo "0 issues."
  - name: Test
    steps:
      - name: unit
        runScriptConfig:
          image: golang:1.22
          shellScript: |
            echo "=== RUN   TestCheckout"
            echo "--- PASS: TestCheckout (0.01s)"
            echo PASS
  - name: Package
    steps:
      - name: archive
        runScriptConfig:
          image: alpine:3.20
          shellScript: echo "shop-1.4.2.tar.gz written"
"""

SLEEPER = """\
stages:
  - name: Build
    steps:
      - name: long
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            echo started
            sleep 120
"""

BROKEN = """\
stages:
  - name: Build
    steps:
      - name: links
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            echo "broken link: /guide/setup"
            exit 1
"""

WIDE = """\
stages:
  - name: Build
    steps:
      - name: a-step-with-a-rather-long-name-to-wrap-somewhere
        runScriptConfig:
          image: alpine:3.20
          shellScript: |
            printf 'x%.0s' $(seq 400); echo
            echo short line
"""


def step_box(page, stage: int, step: int):
    return page.locator(f'.step[data-stage="{stage}"][data-step="{step}"]')


def has_state(state: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s)state-{state}(\s|$)")


@pytest.mark.timeout(120)
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_add_a_pipeline_run_it_and_follow_its_log_live(
    worker, open_page, people, make_repo, make_pipeline, trigger, tmp_path, shoot
) -> None:
    from devops.models import Pipeline

    go_file = tmp_path / "go"
    repo = make_repo(PIPELINE.replace("GO_FILE", str(go_file)), name="shop")
    repo.branch("release")
    # Typing a local repository path is for staff only (it reads the service's own disk).
    owner = people.user("dana", staff=True)
    project = people.project(owner, "Web shop")
    # A second pipeline whose run fails meanwhile, so the dashboard shows more than one state.
    docs = make_pipeline(make_repo(BROKEN, name="docs"), project=project.name, name="docs")
    trigger(docs, branch="main")
    page = open_page(owner)

    page.goto("/")
    page.locator(f"#project-{project.pk}").get_by_role("link", name="Add pipeline").click()
    page.fill("#id_url", str(repo.path))
    page.get_by_role("button", name="Add pipeline").click()
    expect(page).to_have_url(re.compile(r"/pipelines/\d+/$"))
    pipeline = Pipeline.objects.exclude(pk=docs.pk).get(project=project)
    assert pipeline.name == "shop"

    page.goto("/")
    row = page.locator(f"#pipeline-{pipeline.pk}")
    expect(row).to_contain_text("never run")
    row.locator("input[name=branch]").fill("release")  # the branch picker
    row.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"/executions/\d+/$"))
    page.evaluate("window.notReloaded = true")
    expect(page.locator(".exec-facts")).to_contain_text("release")

    compile_step = step_box(page, 1, 0)
    expect(compile_step).to_have_attribute("data-name", "compile", timeout=30_000)
    compile_step.click()
    log = page.locator("#log-lines")
    expect(log).to_contain_text("waiting for the test's signal", timeout=30_000)
    expect(compile_step.locator(".state")).to_have_class(has_state("Building"))

    go_file.touch()
    page.wait_for_function(
        "document.getElementById('log-lines').textContent.includes('signal seen at ')", polling="raf", timeout=10_000
    )
    seen = time.time()
    written = float(re.search(r"signal seen at (\d+\.\d+)", log.text_content()).group(1))
    delay = seen - written
    print(f"a live log line showed {delay:.3f}s after the step printed it")
    assert delay < LIVE_BAR_SECONDS, f"the line showed {delay:.2f}s after it was printed (bar: {LIVE_BAR_SECONDS}s)"

    expect(compile_step.locator(".state")).to_have_class(has_state("Success"), timeout=20_000)
    expect(log).to_contain_text("example.com/shop/orders")
    expect(log.locator("[class*=ansi]").first).to_have_text("ok")  # colours rendered, codes gone
    expect(page.locator("#execution-state")).to_have_text("Success", timeout=30_000)
    for stage, step in ((1, 1), (2, 0), (3, 0)):
        expect(step_box(page, stage, step).locator(".state")).to_have_class(has_state("Success"))
    expect(page.locator("#abort")).to_be_hidden()
    expect(page.locator("#execution-started")).not_to_contain_text("not yet")  # updated without a reload
    assert page.evaluate("window.notReloaded === true"), "the page reloaded"
    page.reload()  # the screenshot shows the page as opened on a finished run; the hash reopens the log
    expect(log).to_contain_text("example.com/shop/orders")
    shoot(page, "execution")

    page.goto("/")
    expect(row.locator(".badge")).to_have_text("Success")
    expect(page.locator(f"#pipeline-{docs.pk} .badge")).to_have_text("Failed")
    shoot(page, "dashboard")


@pytest.mark.timeout(90)
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_member_aborts_a_running_execution(
    worker, open_page, people, make_repo, make_pipeline, trigger, wait_final
) -> None:
    pipeline = make_pipeline(make_repo(SLEEPER))
    member = people.user("sam")
    people.join(pipeline.project, member, "member")
    execution = trigger(pipeline, branch="main")

    page = open_page(member)
    page.goto(f"/executions/{execution.pk}/")
    step = step_box(page, 1, 0)
    step.click()
    expect(page.locator("#log-lines")).to_contain_text("started", timeout=30_000)
    expect(step.locator(".state")).to_have_class(has_state("Building"))

    page.locator("#abort").click()
    expect(page.locator("#execution-state")).to_have_text("Aborted", timeout=15_000)
    expect(step.locator(".state")).to_have_class(has_state("Aborted"), timeout=15_000)
    expect(page.locator("#abort")).to_be_hidden()
    assert wait_final(execution.pk, timeout=15).state == "Aborted"


@pytest.mark.timeout(90)
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pages_fit_a_phone(
    worker, open_page, people, make_repo, make_pipeline, trigger, wait_final, no_horizontal_scroll
) -> None:
    pipeline = make_pipeline(make_repo(WIDE))
    owner = people.user("dana")
    people.join(pipeline.project, owner, "owner")
    execution = wait_final(trigger(pipeline, branch="main").pk)
    assert execution.state == "Success"

    page = open_page(owner, phone=True)
    for path in ("/", f"/projects/{pipeline.project_id}/", f"/pipelines/{pipeline.pk}/"):
        page.goto(path)
        expect(page.locator(".pipeline-row, .execution-row, #executions").first).to_be_visible()
        no_horizontal_scroll(page)
    page.goto(f"/executions/{execution.pk}/")
    step_box(page, 1, 0).click()
    expect(page.locator("#log-lines")).to_contain_text("short line")
    no_horizontal_scroll(page)
    owner_pages = (
        (f"/projects/{pipeline.project_id}/settings/", "#members"),
        (f"/pipelines/{pipeline.pk}/edit/", ".editor-step"),
    )
    for path, ready in owner_pages:
        page.goto(path)
        expect(page.locator(ready).first).to_be_visible()
        no_horizontal_scroll(page)
