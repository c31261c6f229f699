"""Execution, stage and step states (spec/pipeline-file.md). Only the engine writes them."""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    QUEUEING = "Queueing"
    WAITING = "Waiting"
    BUILDING = "Building"
    SUCCESS = "Success"
    FAILED = "Failed"
    ABORTED = "Aborted"
    SKIPPED = "Skipped"


FINAL_STATES: frozenset[str] = frozenset({State.SUCCESS, State.FAILED, State.ABORTED, State.SKIPPED})
ACTIVE_STATES: frozenset[str] = frozenset({State.WAITING, State.BUILDING})
