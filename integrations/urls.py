"""Integration endpoint routes (SPEC §2; no trailing slashes)."""

from __future__ import annotations

from django.urls import path

from integrations.views import IntegrationViewSet

app_name = "integrations"

urlpatterns = [
    path(
        "integrations",
        IntegrationViewSet.as_view({"get": "list"}),
        name="integration-list",
    ),
    path(
        "integrations/<int:id>",
        IntegrationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="integration-detail",
    ),
    path(
        "integrations/<int:id>/health",
        IntegrationViewSet.as_view({"get": "health", "post": "check_now"}),
        name="integration-health",
    ),
    path(
        "integrations/<int:id>/rate-limit-status",
        IntegrationViewSet.as_view({"get": "rate_limit_status"}),
        name="integration-rate-limit-status",
    ),
]
