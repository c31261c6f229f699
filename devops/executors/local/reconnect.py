"""The runner's database calls outlive a dropped connection (a PostgreSQL restart, a failover, a killed
backend).

A runner keeps one connection for a whole execution, and Django replaces broken connections only
between tasks, so the first query after a drop raised: the runner died, the steps' results were never
recorded and the safety net later failed an execution whose steps had all passed. Every call the runner
makes is a read or an engine transition (a conditional UPDATE: repeating it is harmless), so it is
simply repeated on a fresh connection until the database answers again, for a bounded time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Long enough for a restart or failover; a longer outage fails the call (the runner then ends the
# execution with the error, or the safety net fails it once its heartbeat is silent).
RETRY_SECONDS = 60.0


def with_reconnect(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)``, repeated on a new connection while the database connection fails."""
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.1
    while True:
        try:
            return func(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            log.warning("database call %s failed (%s); retrying on a new connection", func.__name__, exc)
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
