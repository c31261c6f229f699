"""Which file in a repository is its pipeline file.

Our own names come first so a repository migrating from Rancher can add a ``.devops.yml`` next to
its old ``.rancher-pipeline.yml`` and have the new one win without deleting the old one.
"""

from __future__ import annotations

from pathlib import Path

PIPELINE_FILE_NAMES = (".devops.yml", ".devops.yaml", ".rancher-pipeline.yml", ".rancher-pipeline.yaml")


def find_pipeline_file(repo_dir: str | Path) -> Path | None:
    """The first of ``PIPELINE_FILE_NAMES`` that is a regular file in ``repo_dir``, or None."""
    root = Path(repo_dir)
    for name in PIPELINE_FILE_NAMES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None
