"""Hypothesis settings for the fuzz tests: the same examples on every run, bounded in time.

``derandomize`` makes CI reproducible (a failure seen once is seen again, and the example is printed);
``database=None`` keeps no example store in the checkout; ``deadline=None`` because the machine is
shared and slow, and a test's speed is not what these properties are about. The profile is
registered, not loaded, so other directories' hypothesis users keep their own settings: each test
here builds on it with ``settings(FUZZ, max_examples=...)``.

The signed deliveries are built with tests/webhooks/webhook_deliveries.py, the same helpers the
webhook tests use, so its directory is made importable here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

WEBHOOK_HELPERS = Path(__file__).resolve().parent.parent / "webhooks"
if str(WEBHOOK_HELPERS) not in sys.path:
    sys.path.append(str(WEBHOOK_HELPERS))

settings.register_profile(
    "devops-fuzz",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # No "explain" phase: on Python 3.11 it traces every line and turned a minute's shrinking into hours.
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    # Generated files and deliveries are large by design; the run and webhook tests share
    # function-scoped fixtures (a repository factory, the worker) across examples on purpose.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
