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
