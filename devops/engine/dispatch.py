"""Side effects enqueued on commit (Zulip style): a task never sees a row its sender rolled back."""

from __future__ import annotations

from django.db import transaction


def admit_later(project_id: int) -> None:
    from devops import tasks

    transaction.on_commit(lambda: tasks.admit.delay(project_id))


def start_later(execution_id: int) -> None:
    from devops import tasks

    transaction.on_commit(lambda: tasks.start.delay(execution_id))


def after_commit(func: object, *args: object) -> None:
    transaction.on_commit(lambda: func(*args))  # type: ignore[operator]
