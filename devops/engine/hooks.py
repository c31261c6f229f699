"""What happens after an execution reaches a final state, as plug-ins.

Commit status (SCM providers) and notifications register here instead of the engine importing them,
so the engine stays the same when providers are added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

FinishHook = Callable[[int], None]
_created_hooks: list[FinishHook] = []
_finish_hooks: list[FinishHook] = []


def on_execution_created(func: FinishHook) -> FinishHook:
    """Run ``func(execution_id)`` after the transaction that created an execution commits."""
    if func not in _created_hooks:
        _created_hooks.append(func)
    return func


def on_execution_finished(func: FinishHook) -> FinishHook:
    if func not in _finish_hooks:
        _finish_hooks.append(func)
    return func


def execution_created(execution_id: int) -> None:
    _run(_created_hooks, execution_id)


def execution_finished(execution_id: int) -> None:
    _run(_finish_hooks, execution_id)


def _run(hooks: list[FinishHook], execution_id: int) -> None:
    for hook in list(hooks):
        try:
            hook(execution_id)
        except Exception:  # noqa: BLE001 - one failing reporter must not stop the others
            log.exception("finish hook %s failed for execution %s", getattr(hook, "__name__", hook), execution_id)
