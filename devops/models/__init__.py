"""The records. They mirror Rancher's pipeline CRDs (ARCHITECTURE.md, Records)."""

from .clusters import Cluster
from .executions import PipelineExecution, StageRun, StepRun
from .pipelines import Pipeline, PipelineTemplate
from .projects import PipelineSetting, Project, ProjectMember, ProjectSecret, RegistryCredential
from .scm import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository

__all__ = [
    "Cluster",
    "Pipeline",
    "PipelineExecution",
    "PipelineSetting",
    "PipelineTemplate",
    "Project",
    "ProjectMember",
    "ProjectSecret",
    "RegistryCredential",
    "SourceCodeCredential",
    "SourceCodeProviderConfig",
    "SourceCodeRepository",
    "StageRun",
    "StepRun",
]
