"""Settings for the test suite: real PostgreSQL and Redis on this machine, scratch dirs under var/test.

Environment variables still win, so CI can point the suite elsewhere.
"""

import os
from pathlib import Path

_base = Path(__file__).resolve().parent.parent
_var = Path(os.environ.setdefault("DEVOPS_VAR_DIR", str(_base / "var" / "test")))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/devops")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DEFAULT_CACHE_ROOT", str(_var / "cache"))
os.environ.setdefault("RUNNER_SILENCE_SECONDS", "4")
os.environ.setdefault("LAUNCH_RETRY_SECONDS", "5")
os.environ.setdefault("LOCAL_REGISTRY", "127.0.0.1:5055")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Test sessions run side by side on one Redis (a developer's run next to CI, parallel helpers): each
# session and the worker it starts (which inherits this variable) use their own key prefix, so one
# session's worker never takes another's tasks (it would not find their rows in its database).
_session = os.environ.setdefault("DEVOPS_TEST_SESSION", str(os.getpid()))
if CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": f"t{_session}:"}  # noqa: F405
