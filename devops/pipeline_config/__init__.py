"""Parse and validate a repository's pipeline file into typed, JSON-serialisable objects.

Pure Python (PyYAML only): no Django, no database, so the webhook intake, the API's "validate"
endpoint and the CLI can all use it, and tests need nothing else. The file format is described in
spec/pipeline-file.md.
"""

from .conditions import EVENTS, BranchFilter, When, glob_match
from .discovery import PIPELINE_FILE_NAMES, find_pipeline_file
from .errors import ConfigError, PipelineConfigError
from .model import (
    NOTIFY_CONDITIONS,
    STEP_KINDS,
    ApplyAppConfig,
    ApplyYamlConfig,
    EnvFrom,
    Notification,
    PipelineSpec,
    Preload,
    PublishImageConfig,
    Recipient,
    RunScriptConfig,
    SourceCodeConfig,
    Stage,
    Step,
    StepConfig,
    StepKind,
)
from .parser import parse_pipeline
from .substitution import substitute
from .templates import TemplateDef

__all__ = [
    "EVENTS",
    "NOTIFY_CONDITIONS",
    "PIPELINE_FILE_NAMES",
    "STEP_KINDS",
    "ApplyAppConfig",
    "ApplyYamlConfig",
    "BranchFilter",
    "ConfigError",
    "EnvFrom",
    "Notification",
    "PipelineConfigError",
    "PipelineSpec",
    "Preload",
    "PublishImageConfig",
    "Recipient",
    "RunScriptConfig",
    "SourceCodeConfig",
    "Stage",
    "Step",
    "StepConfig",
    "StepKind",
    "TemplateDef",
    "When",
    "find_pipeline_file",
    "glob_match",
    "parse_pipeline",
    "substitute",
]
