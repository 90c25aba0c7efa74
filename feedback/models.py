"""Feedback reports, their attachments, and their GitHub issues."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan
from django.utils import timezone


def attachment_path(instance: FeedbackAttachment, filename: str) -> str:
    # A generated name: the uploader's filename is kept as data, never as a path.
    return f"attachments/{instance.feedback_id}/{uuid.uuid4().hex}"


class FeedbackReport(models.Model):
    """What a tester found, and its GitHub issue once synced.

    ``sync_state``: PENDING (stored, the issue not yet created) → SYNCED (it
    has ``github_issue_number``) or FAILED (last attempt failed or the error
    is permanent; ``sync_last_error`` says why). FAILED → PENDING only by the
    operator's "retry sync". DISABLED: no GitHub settings when it was
    submitted; "retry sync" moves it to PENDING once they exist.
    ``status`` follows the issue: closed → RESOLVED (state_reason completed)
    or CLOSED (not planned, duplicate), reopened → OPEN.
    """

    class Category(models.TextChoices):
        INTEGRATION = "INTEGRATION", "Integration"
        UX = "UX", "UX"
        PERFORMANCE = "PERFORMANCE", "Performance"
        SECURITY = "SECURITY", "Security"
        OTHER = "OTHER", "Other"

    class Priority(models.TextChoices):
        LOW = "LOW", "Low"
        MEDIUM = "MEDIUM", "Medium"
        HIGH = "HIGH", "High"
        CRITICAL = "CRITICAL", "Critical"

    class Status(models.TextChoices):
        OPEN = "OPEN", "Open"
        IN_PROGRESS = "IN_PROGRESS", "In progress"
        RESOLVED = "RESOLVED", "Resolved"
        CLOSED = "CLOSED", "Closed"

    class SyncState(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SYNCED = "SYNCED", "Synced"
        FAILED = "FAILED", "Failed"
        DISABLED = "DISABLED", "Disabled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        "testsessions.TestSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_reports",
    )
    title = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(max_length=20, choices=Category.choices)
    priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.OPEN
    )
    github_issue_number = models.PositiveIntegerField(null=True, blank=True)
    github_issue_url = models.URLField(blank=True, default="")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="feedback_reports",
    )
    reported_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    sync_state = models.CharField(
        max_length=10, choices=SyncState.choices, default=SyncState.PENDING
    )
    sync_attempts = models.PositiveSmallIntegerField(default=0)
    sync_last_error = models.TextField(blank=True, default="")
    synced_at = models.DateTimeField(null=True, blank=True)
    # The issue's updated_at when its state was last applied (webhook or
    # reconcile): an older delivery arriving late must not undo a newer one.
    github_state_at = models.DateTimeField(null=True, blank=True, editable=False)
    # scheme://host the report was submitted through: the base of the
    # attachment links in the issue when FEEDBACK_PUBLIC_BASE_URL is unset.
    submitted_from = models.CharField(
        max_length=300, blank=True, default="", editable=False
    )

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(
                condition=GreaterThan(Length(Trim("title")), 0),
                name="feedback_title_not_blank",
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length(Trim("description")), 0),
                name="feedback_description_not_blank",
            ),
            models.CheckConstraint(
                condition=Q(github_issue_number__isnull=True)
                | Q(github_issue_number__gt=0),
                name="feedback_issue_number_positive",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | Q(status__in=["RESOLVED", "CLOSED"]),
                name="feedback_resolved_at_only_when_resolved",
            ),
            # One report per GitHub issue: a retried sync must never file twice.
            models.UniqueConstraint(
                fields=["github_issue_number"],
                condition=Q(github_issue_number__isnull=False),
                name="feedback_issue_number_unique",
            ),
        ]
        indexes = [
            # GET /testing/feedback?status=&priority= and the triage list.
            models.Index(
                fields=["status", "priority"], name="feedback_status_prio_idx"
            ),
            # Webhook deliveries look reports up by issue number.
            models.Index(fields=["github_issue_number"], name="feedback_issue_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class FeedbackAttachment(models.Model):
    """A file attached to a report, stored under a generated name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    feedback = models.ForeignKey(
        FeedbackReport, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    content_type = models.CharField(max_length=100)
    file_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, blank=True, default="")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(file_size__gt=0), name="attachment_size_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def file_path(self) -> str:
        return self.file.name


class WebhookDelivery(models.Model):
    """A GitHub webhook delivery already handled (replays are ignored)."""

    delivery_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=50)
    action = models.CharField(max_length=50, blank=True, default="")
    issue_number = models.PositiveIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event}/{self.action} {self.delivery_id}"
