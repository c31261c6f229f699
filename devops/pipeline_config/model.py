"""The typed pipeline, as the engine and executors consume it.

Frozen so a parsed pipeline can be shared between threads and compared; ``to_dict`` gives plain JSON
types because the engine stores it as an execution's config snapshot and rebuilds it with
``from_dict`` later (possibly after this code has changed, hence ``.get`` with defaults when reading).
Field names are Python's (snake_case), not the file's, so the snapshot never depends on file syntax.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .conditions import BranchFilter, When

SNAPSHOT_VERSION = 1
StepKind = Literal["sourceCode", "runScript", "publishImage", "applyYaml", "applyApp"]
STEP_KINDS: tuple[StepKind, ...] = ("sourceCode", "runScript", "publishImage", "applyYaml", "applyApp")
NOTIFY_CONDITIONS = ("Success", "Failed", "Aborted", "Changed")


@dataclass(frozen=True, kw_only=True)
class SourceCodeConfig:
    """Checks the execution's commit out into the shared workspace; has no settings."""

    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceCodeConfig:
        return cls()


@dataclass(frozen=True, kw_only=True)
class RunScriptConfig:
    image: str
    shell_script: str

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "shell_script": self.shell_script}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunScriptConfig:
        return cls(image=data["image"], shell_script=data["shell_script"])


@dataclass(frozen=True, kw_only=True)
class Preload:
    """Warm an image on nodes after a push; no nodes and no selector means every node."""

    nodes: tuple[str, ...] = ()
    selector: dict[str, str] = field(default_factory=dict)
    parallelism: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "selector": dict(self.selector), "parallelism": self.parallelism}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preload:
        return cls(
            nodes=tuple(data.get("nodes", ())),
            selector=dict(data.get("selector", {})),
            parallelism=data.get("parallelism"),
        )


@dataclass(frozen=True, kw_only=True)
class PublishImageConfig:
    dockerfile_path: str = "./Dockerfile"
    build_context: str = "."
    tag: str
    push_remote: bool = False
    registry: str | None = None
    preload: Preload | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dockerfile_path": self.dockerfile_path,
            "build_context": self.build_context,
            "tag": self.tag,
            "push_remote": self.push_remote,
            "registry": self.registry,
            "preload": None if self.preload is None else self.preload.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishImageConfig:
        preload = data.get("preload")
        return cls(
            dockerfile_path=data.get("dockerfile_path", "./Dockerfile"),
            build_context=data.get("build_context", "."),
            tag=data["tag"],
            push_remote=data.get("push_remote", False),
            registry=data.get("registry"),
            preload=None if preload is None else Preload.from_dict(preload),
        )


@dataclass(frozen=True, kw_only=True)
class ApplyYamlConfig:
    """Exactly one of ``path`` (in the workspace) and ``content`` (inline YAML) is set."""

    path: str | None = None
    content: str | None = None
    namespace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "content": self.content, "namespace": self.namespace}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApplyYamlConfig:
        return cls(path=data.get("path"), content=data.get("content"), namespace=data.get("namespace"))


@dataclass(frozen=True, kw_only=True)
class ApplyAppConfig:
    """A Helm release; ``values`` are ``--set`` style (dotted keys to strings)."""

    chart: str
    repo: str | None = None
    version: str | None = None
    name: str
    target_namespace: str
    values: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "repo": self.repo,
            "version": self.version,
            "name": self.name,
            "target_namespace": self.target_namespace,
            "values": dict(self.values),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApplyAppConfig:
        return cls(
            chart=data["chart"],
            repo=data.get("repo"),
            version=data.get("version"),
            name=data["name"],
            target_namespace=data["target_namespace"],
            values=dict(data.get("values", {})),
        )


StepConfig = SourceCodeConfig | RunScriptConfig | PublishImageConfig | ApplyYamlConfig | ApplyAppConfig
CONFIG_CLASSES: dict[str, type[StepConfig]] = {
    "sourceCode": SourceCodeConfig,
    "runScript": RunScriptConfig,
    "publishImage": PublishImageConfig,
    "applyYaml": ApplyYamlConfig,
    "applyApp": ApplyAppConfig,
}


@dataclass(frozen=True)
class EnvFrom:
    """One value from a project secret, exposed to the step as ``target_key``."""

    source_name: str
    source_key: str
    target_key: str

    def to_dict(self) -> dict[str, Any]:
        return {"source_name": self.source_name, "source_key": self.source_key, "target_key": self.target_key}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvFrom:
        return cls(data["source_name"], data["source_key"], data["target_key"])


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    kind: StepKind
    config: StepConfig
    env: dict[str, str] = field(default_factory=dict)
    env_from: tuple[EnvFrom, ...] = ()
    cache_paths: tuple[str, ...] = ()
    timeout_minutes: float | None = None
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    when: When | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "config": self.config.to_dict(),
            "env": dict(self.env),
            "env_from": [item.to_dict() for item in self.env_from],
            "cache_paths": list(self.cache_paths),
            "timeout_minutes": self.timeout_minutes,
            "cpu_request": self.cpu_request,
            "cpu_limit": self.cpu_limit,
            "memory_request": self.memory_request,
            "memory_limit": self.memory_limit,
            "when": None if self.when is None else self.when.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        kind = data["kind"]
        when = data.get("when")
        return cls(
            name=data["name"],
            kind=kind,
            config=CONFIG_CLASSES[kind].from_dict(data.get("config", {})),
            env=dict(data.get("env", {})),
            env_from=tuple(EnvFrom.from_dict(item) for item in data.get("env_from", ())),
            cache_paths=tuple(data.get("cache_paths", ())),
            timeout_minutes=data.get("timeout_minutes"),
            cpu_request=data.get("cpu_request"),
            cpu_limit=data.get("cpu_limit"),
            memory_request=data.get("memory_request"),
            memory_limit=data.get("memory_limit"),
            when=None if when is None else When.from_dict(when),
        )


@dataclass(frozen=True, kw_only=True)
class Stage:
    name: str
    steps: tuple[Step, ...]
    when: When | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "when": None if self.when is None else self.when.to_dict(),
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        when = data.get("when")
        return cls(
            name=data["name"],
            steps=tuple(Step.from_dict(step) for step in data["steps"]),
            when=None if when is None else When.from_dict(when),
        )


@dataclass(frozen=True)
class Recipient:
    recipient: str
    notifier: str

    def to_dict(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "notifier": self.notifier}


@dataclass(frozen=True, kw_only=True)
class Notification:
    """Who hears about a finished execution, and for which outcomes (``NOTIFY_CONDITIONS``)."""

    recipients: tuple[Recipient, ...]
    condition: tuple[str, ...]
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipients": [item.to_dict() for item in self.recipients],
            "condition": list(self.condition),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            recipients=tuple(Recipient(item["recipient"], item["notifier"]) for item in data["recipients"]),
            condition=tuple(data["condition"]),
            message=data.get("message"),
        )


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    stages: tuple[Stage, ...]
    timeout_minutes: float = 60.0
    branch: BranchFilter | None = None
    notification: Notification | None = None

    def should_run_for_branch(self, branch: str | None) -> bool:
        """The top-level ``branch:`` filter; without one every branch (and no branch) may run."""
        return self.branch is None or self.branch.matches(branch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "timeout_minutes": self.timeout_minutes,
            "branch": None if self.branch is None else self.branch.to_dict(),
            "notification": None if self.notification is None else self.notification.to_dict(),
            "stages": [stage.to_dict() for stage in self.stages],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSpec:
        branch, notification = data.get("branch"), data.get("notification")
        return cls(
            timeout_minutes=float(data.get("timeout_minutes", 60.0)),
            branch=None if branch is None else BranchFilter.from_dict(branch),
            notification=None if notification is None else Notification.from_dict(notification),
            stages=tuple(Stage.from_dict(stage) for stage in data["stages"]),
        )
