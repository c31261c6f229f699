"""The executor contract (Woodpecker-style: small, so a new backend is one module).

The engine calls these; an executor reports step states back through ``devops.engine`` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from devops.models import PipelineExecution, Project


@dataclass(frozen=True)
class StepStatus:
    """What ``poll`` saw of one step."""

    stage_index: int
    step_index: int
    state: str
    exit_code: int | None = None
    reason: str = ""


class Executor(ABC):
    name: str = "base"

    def prepare(self, project: Project) -> None:  # noqa: B027 - optional hook
        """Idempotent provisioning before the first launch in a project (namespaces, registries)."""

    @abstractmethod
    def launch(self, execution: PipelineExecution) -> None:
        """Start the whole execution; must return quickly."""

    def poll(self, executions: list[PipelineExecution]) -> dict[int, list[StepStatus]]:
        """Batched state read for executors that do not report by themselves."""
        return {}

    def read_running_log(self, execution: PipelineExecution, stage_index: int, step_index: int) -> bytes | None:
        """The masked output so far of a step whose executor keeps it outside the live log buffer
        (a pod's log); None where the live buffer already has it (the local runner writes there)."""
        return None

    @abstractmethod
    def abort(self, execution: PipelineExecution) -> None:
        """Stop whatever still runs for this execution. Called after the state is already final."""

    def cleanup(self, execution: PipelineExecution) -> None:  # noqa: B027 - optional hook
        """Free resources of a finished execution once its logs are stored."""
