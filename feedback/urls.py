"""Feedback routes (SPEC §2; no trailing slashes)."""

from __future__ import annotations

from django.urls import path

from feedback.views import FeedbackViewSet, GitHubWebhookView

app_name = "feedback"

urlpatterns = [
    path(
        "feedback",
        FeedbackViewSet.as_view({"get": "list", "post": "create"}),
        name="feedback-list",
    ),
    path(
        "feedback/<uuid:id>",
        FeedbackViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="feedback-detail",
    ),
    path(
        "feedback/<uuid:id>/attachments",
        FeedbackViewSet.as_view({"post": "upload_attachment"}),
        name="attachment-list",
    ),
    path(
        "feedback/<uuid:id>/attachments/<uuid:attachment_id>",
        FeedbackViewSet.as_view({"get": "download_attachment"}),
        name="attachment-download",
    ),
    path("github/webhook", GitHubWebhookView.as_view(), name="github-webhook"),
]
