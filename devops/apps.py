"""The devops Django app."""
from django.apps import AppConfig


class DevopsConfig(AppConfig):
    name = "devops"
    default_auto_field = "django.db.models.BigAutoField"
