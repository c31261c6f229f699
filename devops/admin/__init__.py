"""The Django admin for operators: one module per area, each registering its models on import.

Secrets are write-only everywhere here (``common``); rows the service writes are read-only; actions
go through the same services and engine functions as the API. Schedules' beat tasks show in
django-celery-beat's own admin, which that app registers.
"""

from . import clusters, executions, pipelines, projects, scm, triggers

__all__ = ["clusters", "executions", "pipelines", "projects", "scm", "triggers"]
