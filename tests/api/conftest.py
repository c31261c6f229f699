"""The pipeline API tests' ``world`` fixture (a module defining its own ``world`` keeps it)."""

from pipelines_world import world  # noqa: F401
