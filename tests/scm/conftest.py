"""Fixtures of the source code provider tests: fake provider servers over real HTTP, and their users.

A test module that talks to one provider sets ``PROVIDER`` (the fake's name) and asks for ``fake``;
modules that need several fakes start them with ``start_fake``. Helpers that are not fixtures live in
``scm_support.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devops.testing.fake_scm import FakeScm, FakeUser


@pytest.fixture
def start_fake() -> Iterator[Callable[[str], FakeScm]]:
    """``start_fake(provider)``: a started fake provider server, stopped when the test ends."""
    started: list[FakeScm] = []

    def start(provider: str) -> FakeScm:
        fake = FakeScm(provider).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(request: pytest.FixtureRequest, start_fake: Callable[[str], FakeScm]) -> FakeScm:
    """The fake of the test module's provider (its module-level ``PROVIDER``)."""
    return start_fake(request.module.PROVIDER)


@pytest.fixture
def alice(fake: FakeScm) -> FakeUser:
    return fake.add_user("alice")
