"""API representations of feedback reports and attachments (SPEC §1, §2)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback.github import new_issue_url
from feedback.models import FeedbackAttachment, FeedbackReport
from sessions.models import TestSession

METADATA_MAX_CHARS = 64 * 1024


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class FeedbackAttachmentSerializer(serializers.ModelSerializer):
    feedback_id = serializers.UUIDField(read_only=True)
    file_path = serializers.CharField(
        read_only=True, help_text="Generated storage name (never the uploader's)."
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackAttachment
        fields = [
            "id",
            "feedback_id",
            "filename",
            "file_path",
            "content_type",
            "file_size",
            "sha256",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment: FeedbackAttachment) -> str:
        path = reverse(
            "feedback:attachment-download",
            args=[attachment.feedback_id, attachment.pk],
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class FeedbackReportSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(read_only=True, allow_null=True)
    reported_by = serializers.IntegerField(source="reported_by_id", read_only=True)
    reported_by_username = serializers.CharField(
        source="reported_by.username", read_only=True
    )
    github_issue_url = serializers.SerializerMethodField(
        help_text="The issue's web page once synced, else null."
    )
    attachments = FeedbackAttachmentSerializer(many=True, read_only=True)
    github_new_issue_url = serializers.SerializerMethodField(
        help_text="When the sync FAILED: a pre-filled GitHub 'new issue' page."
    )

    class Meta:
        model = FeedbackReport
        fields = [
            "id",
            "session_id",
            "title",
            "description",
            "category",
            "priority",
            "status",
            "github_issue_number",
            "github_issue_url",
            "reported_by",
            "reported_by_username",
            "reported_at",
            "resolved_at",
            "metadata",
            "sync_state",
            "sync_attempts",
            "sync_last_error",
            "synced_at",
            "attachments",
            "github_new_issue_url",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {"type": "string", "format": "uri", "nullable": True, "readOnly": True}
    )
    def get_github_issue_url(self, report: FeedbackReport) -> str | None:
        return report.github_issue_url or None

    @extend_schema_field(
        {"type": "string", "format": "uri", "nullable": True, "readOnly": True}
    )
    def get_github_new_issue_url(self, report: FeedbackReport) -> str | None:
        if report.sync_state != FeedbackReport.SyncState.FAILED:
            return None
        return new_issue_url(report) or None


class FeedbackSubmitSerializer(serializers.Serializer):
    """POST /testing/feedback: JSON, or multipart with ``files``."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField()
    category = serializers.ChoiceField(choices=FeedbackReport.Category.choices)
    priority = serializers.ChoiceField(
        choices=FeedbackReport.Priority.choices,
        default=FeedbackReport.Priority.MEDIUM,
    )
    session_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The session the report is about; omitted: the reporter's "
        "ACTIVE session, if any; null: none.",
    )
    metadata = serializers.JSONField(required=False, default=dict)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        default=list,
        help_text="Multipart only: attachments (images, PDF, UTF-8 text/JSON/HAR).",
    )

    def validate_title(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("May not be blank.")
        return value.strip()

    def validate_description(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("May not be blank.")
        return value

    def validate_metadata(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        # PostgreSQL's jsonb refuses \u0000; SQLite would store it silently.
        if _has_nul(value):
            raise serializers.ValidationError("May not contain NUL characters.")
        text = json.dumps(value)
        if len(text) > METADATA_MAX_CHARS:
            raise serializers.ValidationError(
                f"At most {METADATA_MAX_CHARS} characters of JSON."
            )
        return value

    def validate_session_id(self, value: Any) -> TestSession | None:
        if value is None:
            return None
        session = TestSession.objects.filter(pk=value).first()
        if session is None:
            raise serializers.ValidationError(f"No test session {value}.")
        return session


class FeedbackTriageSerializer(serializers.Serializer):
    """PATCH /testing/feedback/{id}: triage by product owners and operators."""

    status = serializers.ChoiceField(
        choices=FeedbackReport.Status.choices, required=False
    )
    priority = serializers.ChoiceField(
        choices=FeedbackReport.Priority.choices, required=False
    )

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data or {}) - {"status", "priority"}
        if unknown:
            raise serializers.ValidationError(
                {name: ["Cannot be changed."] for name in sorted(unknown)}
            )
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give status and/or priority."]}
            )
        return attrs


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
