"""In Chromium: signing in with a username and password, the dashboard, and the project settings page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

SECRET_VALUE = "s3cr3t-token-value-7731"
REGISTRY_PASSWORD = "registry-password-9902"


@pytest.mark.django_db(transaction=True)
def test_sign_in_with_password_lists_my_projects_and_settings(open_page, people, shoot) -> None:
    from devops.services import create_registry_credential, create_secret, set_project_setting

    owner = people.user("dana")
    project = people.project(owner, "Web shop")
    foreign = people.project(people.user("erin"), "Someone else's")
    people.join(project, people.user("sam"), "member")
    people.join(project, people.user("vic"), "viewer")
    create_secret(project, name="deploy-keys", data={"API_TOKEN": SECRET_VALUE})
    create_registry_credential(project, registry="registry.example.com", username="ci-bot", password=REGISTRY_PASSWORD)
    set_project_setting(project, "executor-quota", "4")

    page = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", owner.username)
    page.fill("#id_password", "not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".errorlist")).to_be_visible()

    page.fill("#id_username", owner.username)
    page.fill("#id_password", people.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    card = page.locator(f"#project-{project.pk}")
    expect(card).to_contain_text("Web shop")
    expect(card).to_contain_text("No pipelines yet")  # the empty state says what to do next
    expect(card.get_by_role("link", name="Add a pipeline")).to_be_visible()
    expect(page.locator(f"#project-{foreign.pk}")).to_have_count(0)

    card.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/settings/$"))
    expect(page.locator("#secrets")).to_contain_text("deploy-keys")
    expect(page.locator("#secrets")).to_contain_text("API_TOKEN")
    expect(page.locator("#registries")).to_contain_text("registry.example.com")
    expect(page.locator("#members")).to_contain_text("sam")
    expect(page.locator("#id_executor-quota")).to_have_value("4")
    html = page.content()
    assert SECRET_VALUE not in html and REGISTRY_PASSWORD not in html, "a secret value was rendered"
    shoot(page, "settings")
