"""The devops Django app."""
from django.apps import AppConfig


class DevopsConfig(AppConfig):
    name = "devops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plug-ins that react to engine events register here, so the engine imports none of them.
        from devops.scm import registration, status

        status.register()
        registration.register()
        # Signal receivers: deleting a schedule (or its pipeline) removes its beat task.
        from devops import schedules  # noqa: F401
