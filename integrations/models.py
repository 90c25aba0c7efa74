"""Integration endpoints, their health history, alerts and audit records."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from integrations.validators import validate_endpoint_url, validate_not_production
from testenv.db import TimeStampedModel


class EndpointKind(models.TextChoices):
    YUNITE = "yunite", "Yunite"
    DISCORD = "discord", "Discord OAuth2"
    BANANO = "banano", "Banano node"
    WALLET = "wallet", "Payout wallet"
    ADMIN = "admin", "Pay2Slay admin API"
    GITHUB = "github", "GitHub"
    HTTP = "http", "Generic HTTP"


class IntegrationEndpoint(TimeStampedModel):
    """An external service testenv talks to, LIVE or through a simulator."""

    class AuthType(models.TextChoices):
        NONE = "NONE", "None"
        API_KEY = "API_KEY", "API key"
        OAUTH = "OAUTH", "OAuth"
        BEARER_TOKEN = "BEARER_TOKEN", "Bearer token"

    class Mode(models.TextChoices):
        LIVE = "LIVE", "Live"
        SIMULATED = "SIMULATED", "Simulated"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=EndpointKind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SIMULATED)
    base_url = models.CharField(max_length=500, validators=[validate_endpoint_url])
    health_check_url = models.CharField(
        max_length=500, blank=True, validators=[validate_endpoint_url]
    )
    auth_type = models.CharField(
        max_length=20, choices=AuthType.choices, default=AuthType.NONE
    )
    # Fernet token of a JSON object; written through set_credentials() only and
    # never shown back (see integrations.crypto).
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(default=60)
    timeout_seconds = models.PositiveIntegerField(default=30)
    retry_attempts = models.PositiveSmallIntegerField(default=3)
    enabled = models.BooleanField(default=True)
    check_interval_seconds = models.PositiveIntegerField(default=30)
    startup_grace_seconds = models.PositiveIntegerField(default=0)
    # When the endpoint last came up (first check, or first answer after an
    # outage); TIMEOUTs within startup_grace_seconds of it count as DEGRADED.
    came_up_at = models.DateTimeField(null=True, blank=True)
    latency_threshold_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Slower answers are DEGRADED."
    )
    latency_baseline_ms = models.FloatField(null=True, blank=True, editable=False)
    failure_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive failures before an alert opens."
    )
    recovery_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive successes before an alert resolves."
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Kind-specific settings (guild id, ...)."
    )
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__gt=0),
                name="endpoint_rate_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1, timeout_seconds__lte=300),
                name="endpoint_timeout_1_300",
            ),
            models.CheckConstraint(
                condition=Q(retry_attempts__gte=0, retry_attempts__lte=10),
                name="endpoint_retry_attempts_0_10",
            ),
            models.CheckConstraint(
                condition=Q(check_interval_seconds__gte=1),
                name="endpoint_check_interval_positive",
            ),
            models.CheckConstraint(
                condition=Q(failure_threshold__gte=1, recovery_threshold__gte=1),
                name="endpoint_alert_thresholds_positive",
            ),
            models.CheckConstraint(
                condition=Q(base_url__startswith="http://")
                | Q(base_url__startswith="https://"),
                name="endpoint_base_url_http",
            ),
        ]
        indexes = [
            # The dispatcher claims enabled endpoints that are due.
            models.Index(fields=["enabled", "next_check_at"], name="endpoint_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.mode})"

    def save(self, *args, **kwargs) -> None:
        # Field validators run only in full_clean(); the production guard must
        # hold on every save path (admin, API, shell, fixtures, services).
        # Saves that do not touch the URLs (the scheduler's bookkeeping) pass,
        # so adding a host to PRODUCTION_HOSTS cannot break them; the outbound
        # layer refuses that host at call time anyway.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"base_url", "health_check_url"} & set(
            update_fields
        ):
            self.refuse_production_hosts()
        super().save(*args, **kwargs)

    def refuse_production_hosts(self) -> None:
        """Raise ValidationError when a URL of the endpoint is a production host."""
        errors = {}
        for field in ("base_url", "health_check_url"):
            try:
                validate_not_production(getattr(self, field) or "")
            except ValidationError as error:
                errors[field] = error.error_list
        if errors:
            raise ValidationError(errors)

    @property
    def check_url(self) -> str:
        return self.health_check_url or self.base_url

    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def get_credentials(self) -> dict:
        from integrations.crypto import decrypt_json

        return (
            decrypt_json(self.credentials_encrypted)
            if self.credentials_encrypted
            else {}
        )

    def set_credentials(self, credentials: dict | None) -> None:
        from integrations.crypto import encrypt_json

        self.credentials_encrypted = encrypt_json(credentials) if credentials else ""


class HealthStatus(models.TextChoices):
    HEALTHY = "HEALTHY", "Healthy"
    DEGRADED = "DEGRADED", "Degraded"
    UNHEALTHY = "UNHEALTHY", "Unhealthy"
    TIMEOUT = "TIMEOUT", "Timeout"


class IntegrationHealthStatus(models.Model):
    """One health check of one endpoint."""

    Status = HealthStatus

    endpoint = models.ForeignKey(
        IntegrationEndpoint, on_delete=models.CASCADE, related_name="health_statuses"
    )
    session = models.ForeignKey(
        "testsessions.TestSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="health_statuses",
    )
    status = models.CharField(max_length=10, choices=HealthStatus.choices)
    response_time_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(default=timezone.now)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "integration health statuses"
        ordering = ["-checked_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(response_time_ms__gte=0), name="health_response_time_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(status_code__isnull=True)
                | Q(status_code__gte=100, status_code__lte=599),
                name="health_status_code_range",
            ),
        ]
        indexes = [
            # Time-range reads across all endpoints (dashboard chart, retention).
            models.Index(fields=["checked_at"], name="health_checked_at_idx"),
            # Latest status and history of one endpoint.
            models.Index(
                fields=["endpoint", "-checked_at"], name="health_endpoint_time_idx"
            ),
            # A session's health rows, newest first (session detail, exports).
            models.Index(
                fields=["session", "-checked_at"], name="health_session_time_idx"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.endpoint_id} {self.status} at {self.checked_at:%Y-%m-%d %H:%M:%S}"
        )

    @property
    def is_failure(self) -> bool:
        return self.status in (HealthStatus.UNHEALTHY, HealthStatus.TIMEOUT)


class HealthAggregate(models.Model):
    """Hourly roll-up of raw health rows older than the newest 1000 per endpoint."""

    endpoint = models.ForeignKey(
        IntegrationEndpoint, on_delete=models.CASCADE, related_name="health_aggregates"
    )
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    avg_ms = models.FloatField(null=True, blank=True)
    status_counts = models.JSONField(default=dict, blank=True)
    # Sparse log-scale latency histogram (integrations.stats): lets two partial
    # roll-ups of one hour merge without losing the percentiles.
    histogram = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "hour"], name="aggregate_endpoint_hour"
            ),
            models.CheckConstraint(
                condition=Q(failures__lte=F("count")),
                name="aggregate_failures_le_count",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.hour:%Y-%m-%d %H:00} ({self.count})"


class Alert(models.Model):
    """An endpoint is down, rate limited or slow; opens and resolves with hysteresis."""

    class Kind(models.TextChoices):
        DOWN = "DOWN", "Down"
        RATE_LIMITED = "RATE_LIMITED", "Rate limited"
        LATENCY = "LATENCY", "Latency above baseline"
        SESSION_PAUSED = "SESSION_PAUSED", "Session paused (rollback trigger)"

    class State(models.TextChoices):
        OPEN = "OPEN", "Open"
        RESOLVED = "RESOLVED", "Resolved"

    endpoint = models.ForeignKey(
        IntegrationEndpoint, on_delete=models.CASCADE, related_name="alerts"
    )
    session = models.ForeignKey(
        "testsessions.TestSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    message = models.TextField(blank=True, default="")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Flapping must not open a second alert while one is open.
            models.UniqueConstraint(
                fields=["endpoint", "kind"],
                condition=Q(state="OPEN"),
                name="alert_one_open_per_endpoint_kind",
            ),
            models.CheckConstraint(
                condition=Q(state="OPEN", resolved_at__isnull=True)
                | Q(state="RESOLVED", resolved_at__isnull=False),
                name="alert_resolved_at_iff_resolved",
            ),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="alert_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.endpoint_id} ({self.state})"


class NotificationChannel(TimeStampedModel):
    """Where alerts go: an Apprise URL (Discord webhook, mailto, Slack, ...)."""

    name = models.CharField(max_length=100, unique=True)
    # Encrypted: Apprise URLs carry webhook tokens and passwords.
    url_encrypted = models.TextField(editable=False, default="")
    enabled = models.BooleanField(default=True)
    last_error = models.TextField(blank=True, default="", editable=False)
    last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_url(self) -> str:
        from integrations.crypto import decrypt_text

        return decrypt_text(self.url_encrypted) if self.url_encrypted else ""

    def set_url(self, url: str) -> None:
        from integrations.crypto import encrypt_text

        self.url_encrypted = encrypt_text(url) if url else ""


class Compensation(models.Model):
    """Something a workflow created that session cleanup must undo."""

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DONE = "DONE", "Done"
        FAILED = "FAILED", "Failed"

    session = models.ForeignKey(
        "testsessions.TestSession",
        on_delete=models.CASCADE,
        related_name="compensations",
    )
    endpoint = models.ForeignKey(
        IntegrationEndpoint, on_delete=models.CASCADE, related_name="compensations"
    )
    workflow = models.CharField(max_length=100)
    action = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["session", "state"], name="compensation_session_idx")
        ]

    def __str__(self) -> str:
        return f"{self.action} for {self.workflow} ({self.state})"


class AuditEvent(models.Model):
    """Who changed what and when, through the API or the admin."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=20, default="api")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["-at"], name="audit_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"
