"""Test sessions and the results of the workflows run in them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class IllegalTransition(Exception):
    """A session status change that the state machine does not allow (HTTP 409)."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"a {current} session cannot become {target}")


class TestSession(models.Model):
    """A tester's run through the integrations.

    Transitions (anything else raises ``IllegalTransition``):
    ACTIVE→PAUSED, PAUSED→ACTIVE, ACTIVE→COMPLETED, ACTIVE→FAILED, PAUSED→FAILED.
    COMPLETED and FAILED are final and set ``ended_at``.
    """

    __test__ = False  # not a pytest test class

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        PAUSED = "PAUSED", "Paused"
        COMPLETED = "COMPLETED", "Completed"
        FAILED = "FAILED", "Failed"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.ACTIVE: frozenset({Status.PAUSED, Status.COMPLETED, Status.FAILED}),
        Status.PAUSED: frozenset({Status.ACTIVE, Status.FAILED}),
        Status.COMPLETED: frozenset(),
        Status.FAILED: frozenset(),
    }
    FINAL = frozenset({Status.COMPLETED, Status.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    tester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="test_sessions"
    )
    configuration = models.JSONField(default=dict, blank=True)
    # Why the session was last paused (the rollback trigger writes it).
    pause_reason = models.TextField(blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tester"],
                condition=Q(status="ACTIVE"),
                name="session_one_active_per_tester",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(status="ACTIVE"),
                name="session_name_unique_among_active",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ended_after_started",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["COMPLETED", "FAILED"], ended_at__isnull=False)
                | Q(status__in=["ACTIVE", "PAUSED"], ended_at__isnull=True),
                name="session_ended_at_iff_final",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["ACTIVE", "PAUSED", "COMPLETED", "FAILED"]),
                name="session_status_valid",
            ),
        ]
        indexes = [
            # GET /testing/sessions?status= and "the ACTIVE session" lookups.
            models.Index(fields=["status"], name="session_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    def transition_to(self, status: str, *, reason: str = "") -> None:
        """Move to ``status`` (unsaved) or raise ``IllegalTransition``."""
        if not self.can_transition_to(status):
            raise IllegalTransition(self.status, status)
        now = timezone.now()
        self.status = status
        if status == self.Status.PAUSED:
            self.paused_at = now
            self.pause_reason = reason
        elif status == self.Status.ACTIVE:
            self.paused_at = None
        if status in self.FINAL:
            self.ended_at = max(now, self.started_at)


class TestResult(models.Model):
    """The outcome of one workflow run."""

    __test__ = False  # not a pytest test class

    class Status(models.TextChoices):
        PASSED = "PASSED", "Passed"
        FAILED = "FAILED", "Failed"
        SKIPPED = "SKIPPED", "Skipped"
        ERROR = "ERROR", "Error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        TestSession, on_delete=models.CASCADE, related_name="test_results"
    )
    endpoint = models.ForeignKey(
        "integrations.IntegrationEndpoint",
        on_delete=models.PROTECT,
        related_name="test_results",
    )
    test_name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    request_data = models.JSONField(default=dict, blank=True)
    response_data = models.JSONField(default=dict, blank=True)
    assertions = models.JSONField(default=list, blank=True)
    error_details = models.TextField(blank=True, default="")
    mode = models.CharField(max_length=10, default="SIMULATED")
    duration_ms = models.PositiveIntegerField(default=0)
    trace_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-completed_at", "-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True)
                | Q(completed_at__gte=F("started_at")),
                name="result_completed_after_started",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["PASSED", "FAILED", "SKIPPED", "ERROR"]),
                name="result_status_valid",
            ),
        ]
        indexes = [
            # A session's results, newest first (session detail, exports).
            models.Index(
                fields=["session", "completed_at"], name="result_session_time_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test_name} {self.status}"
