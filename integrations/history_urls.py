"""Route of the health history API (its own include, beside integrations.urls)."""

from __future__ import annotations

from django.urls import path

from integrations.history_views import HealthHistoryView

app_name = "integrations_history"

urlpatterns = [
    path(
        "integrations/<int:id>/history",
        HealthHistoryView.as_view(),
        name="integration-history",
    ),
]
