from __future__ import annotations

from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Feedback"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from feedback.services import recent_feedback_snapshot
        from testenv.realtime import register_snapshot_part

        # The dashboard's connect-time snapshot lists the recent feedback.
        register_snapshot_part("recent_feedback", recent_feedback_snapshot)
