from __future__ import annotations

from django.apps import AppConfig


class TestSessionsConfig(AppConfig):
    # django.contrib.sessions owns the label "sessions".
    name = "sessions"
    label = "testsessions"
    verbose_name = "Test sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.signals import endpoint_failing_streak
        from sessions.receivers import pause_sessions_on_failing_streak

        endpoint_failing_streak.connect(
            pause_sessions_on_failing_streak,
            dispatch_uid="sessions.rollback_trigger",
        )
