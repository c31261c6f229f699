"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright's sync API against
pytest-django's live server, with the real Celery worker from tests/conftest.py running the steps.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (``make system-deps`` installs
it). Without it the tests are skipped, saying so.

Playwright's sync API keeps its asyncio loop marked as running on this thread while a browser is
open, and Django refuses database calls from a thread with a running loop (``SynchronousOnlyOperation``).
The tests themselves are plain synchronous code, so the browser fixture allows them for its own
lifetime only; the browser is per test, and closing Playwright clears the loop again, so no other test
in the session runs with the loop set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 800}
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _needs_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip before any expensive fixture (the worker) starts when there is no browser to drive."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (`make system-deps` installs it)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see the module docstring


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium for one test."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            # While the loop is marked running, Django keeps this thread's connections in a
            # context-local slot (asgiref), apart from the usual thread-local ones: close those now,
            # or they outlive the test and the test database cannot be dropped at the end.
            connections.close_all()
            chromium.close()


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable[..., object]]:
    """``open_page(user=None, phone=False)`` -> a Playwright page of a fresh browser context (desktop,
    or 375 px wide), signed in as ``user`` (through a real session cookie) when one is given.

    Uncaught JavaScript errors on any page fail the test at its end: a page whose script throws is
    broken even when the assertions happened to pass.
    """
    from django.conf import settings
    from django.test import Client

    errors: list[str] = []

    def make(user=None, *, phone: bool = False):
        context = browser.new_context(viewport=PHONE if phone else DESKTOP, base_url=live_server.url)
        context.set_default_timeout(15_000)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        return page

    yield make
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def shoot() -> Callable[..., None]:
    """``shoot(page, "name")`` writes docs/screenshots/name.png, but only when SCREENSHOTS=1: the
    committed images are regenerated on purpose, not by every ``make test``."""

    def take(page, name: str, *, full_page: bool = True) -> None:
        if os.environ.get("SCREENSHOTS") != "1":
            return
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=full_page, animations="disabled")

    return take


@pytest.fixture
def people(django_user_model, h, tmp_path: Path) -> SimpleNamespace:
    """Helpers to make users (with a known password) and projects they belong to."""
    from devops.models import ProjectMember
    from devops.services import ensure_project, set_project_setting

    def user(prefix: str = "u", *, staff: bool = False):
        return django_user_model.objects.create_user(
            h.unique_name(prefix), password=PASSWORD, is_staff=staff, first_name=prefix.capitalize()
        )

    def project(owner, display_name: str, role: str = "owner"):
        """A project (unique name: logs and caches are keyed by it) with its cache under tmp_path."""
        proj = ensure_project(h.unique_name("p"))
        proj.display_name = display_name
        proj.save(update_fields=["display_name"])
        set_project_setting(proj, "cache-root", str(tmp_path / f"cache-{proj.name}"))
        ProjectMember.objects.create(project=proj, user=owner, role=role)
        return proj

    def join(proj, user, role: str = "owner"):
        return ProjectMember.objects.update_or_create(project=proj, user=user, defaults={"role": role})[0]

    return SimpleNamespace(user=user, project=project, join=join, password=PASSWORD)


@pytest.fixture
def no_horizontal_scroll() -> Callable[[object], None]:
    """``no_horizontal_scroll(page)``: the document is no wider than the viewport."""

    def check(page) -> None:
        width = page.viewport_size["width"]
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{page.url} scrolls sideways at {width}px: scrollWidth {scroll}"

    return check
