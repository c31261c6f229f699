"""The records. They mirror Rancher's pipeline CRDs (ARCHITECTURE.md, Records)."""

from .clusters import Cluster
from .executions import PipelineExecution, StageRun, StepRun
from .pipelines import Pipeline, PipelineTemplate
from .projects import PipelineSetting, Project, ProjectMember, ProjectSecret, RegistryCredential
from .scm import SourceCodeCredential, SourceCodeProviderConfig, SourceCodeRepository
from .triggers import DeliveryOutcome, DeliverySource, ImageTrigger, PipelineSchedule, WebhookDelivery

__all__ = [
    "Cluster",
    "DeliveryOutcome",
    "DeliverySource",
    "ImageTrigger",
    "Pipeline",
    "PipelineExecution",
    "PipelineSchedule",
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
    "WebhookDelivery",
]
