from __future__ import annotations

from django.apps import AppConfig


class TestSessionsConfig(AppConfig):
    # django.contrib.sessions owns the label "sessions".
    name = "sessions"
    label = "testsessions"
    verbose_name = "Test sessions"
    default_auto_field = "django.db.models.BigAutoField"
