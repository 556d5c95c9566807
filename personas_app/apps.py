"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class PersonasAppConfig(AppConfig):
    name = "personas_app"
    verbose_name = "Persona Studio"
    default_auto_field = "django.db.models.BigAutoField"
