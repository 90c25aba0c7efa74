"""Session routes (SPEC §2; no trailing slashes)."""

from __future__ import annotations

from django.urls import path

from sessions.views import SessionViewSet

app_name = "sessions"

urlpatterns = [
    path(
        "sessions",
        SessionViewSet.as_view({"get": "list", "post": "create"}),
        name="session-list",
    ),
    path(
        "sessions/<uuid:id>",
        SessionViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="session-detail",
    ),
    path(
        "sessions/<uuid:id>/cleanup",
        SessionViewSet.as_view({"delete": "cleanup"}),
        name="session-cleanup",
    ),
    path(
        "sessions/<uuid:id>/report",
        SessionViewSet.as_view({"get": "report"}),
        name="session-report",
    ),
    path(
        "sessions/<uuid:id>/results",
        SessionViewSet.as_view({"get": "results", "post": "run_workflow"}),
        name="session-results",
    ),
]
