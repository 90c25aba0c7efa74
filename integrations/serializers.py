"""API representations of endpoints and health checks.

Credentials never leave the server: the read serializer has ``has_credentials``
instead, and the update serializer takes ``credentials`` write-only.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from integrations.redaction import REDACTED, SENSITIVE_KEYS

_SECRET_PARTS = ("secret", "token", "password", "credential", "seed", "api_key")


def _is_secret_key(key: str) -> bool:
    lowered = str(key).lower()
    return lowered in SENSITIVE_KEYS or any(part in lowered for part in _SECRET_PARTS)


def redact_by_key(value: Any) -> Any:
    """``value`` with every secret-looking key's value replaced (defence in
    depth: kind settings are not meant to hold secrets, but an operator may
    put one there)."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_secret_key(key) else redact_by_key(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_by_key(item) for item in value]
    return value


class HealthStatusSerializer(serializers.ModelSerializer):
    endpoint_id = serializers.IntegerField(read_only=True)
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)
    session_id = serializers.UUIDField(read_only=True, allow_null=True)
    mode = serializers.CharField(source="endpoint.mode", read_only=True)
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationHealthStatus
        fields = [
            "id",
            "endpoint_id",
            "endpoint_name",
            "session_id",
            "status",
            "response_time_ms",
            "status_code",
            "error_message",
            "checked_at",
            "mode",
            "metadata",
        ]
        read_only_fields = fields

    def get_metadata(self, obj: IntegrationHealthStatus) -> dict[str, Any]:
        return redact_by_key(obj.metadata or {})


class IntegrationEndpointSerializer(serializers.ModelSerializer):
    """An endpoint with its latest check (null before the first)."""

    has_credentials = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        source="latest_status",
        choices=IntegrationHealthStatus.Status.choices,
        read_only=True,
        allow_null=True,
        help_text="Status of the latest health check; null before the first.",
    )
    response_time_ms = serializers.IntegerField(
        source="latest_response_time_ms", read_only=True, allow_null=True
    )
    checked_at = serializers.DateTimeField(
        source="latest_checked_at", read_only=True, allow_null=True
    )
    settings = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationEndpoint
        fields = [
            "id",
            "name",
            "kind",
            "mode",
            "base_url",
            "health_check_url",
            "auth_type",
            "rate_limit_per_minute",
            "timeout_seconds",
            "retry_attempts",
            "enabled",
            "check_interval_seconds",
            "startup_grace_seconds",
            "latency_threshold_ms",
            "latency_baseline_ms",
            "failure_threshold",
            "recovery_threshold",
            "settings",
            "has_credentials",
            "status",
            "response_time_ms",
            "checked_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_credentials(self, obj: IntegrationEndpoint) -> bool:
        return obj.has_credentials()

    def get_settings(self, obj: IntegrationEndpoint) -> dict[str, Any]:
        return redact_by_key(obj.settings or {})


class IntegrationEndpointUpdateSerializer(serializers.ModelSerializer):
    """What an operator may change with PATCH /testing/integrations/{id}.

    ``credentials`` is a JSON object (or null to remove them), encrypted at
    rest and never returned. The bounds repeat the database constraints so a
    bad value is a 400 with field details, not an IntegrityError.
    """

    credentials = serializers.JSONField(
        write_only=True,
        required=False,
        allow_null=True,
        help_text="Write-only JSON object of secrets; null removes them.",
    )
    rate_limit_per_minute = serializers.IntegerField(min_value=1, required=False)
    timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=300, required=False
    )
    retry_attempts = serializers.IntegerField(min_value=0, max_value=10, required=False)
    check_interval_seconds = serializers.IntegerField(min_value=1, required=False)
    startup_grace_seconds = serializers.IntegerField(min_value=0, required=False)
    latency_threshold_ms = serializers.IntegerField(
        min_value=1, required=False, allow_null=True
    )
    failure_threshold = serializers.IntegerField(
        min_value=1, max_value=1000, required=False
    )
    recovery_threshold = serializers.IntegerField(
        min_value=1, max_value=1000, required=False
    )
    settings = serializers.JSONField(required=False)

    class Meta:
        model = IntegrationEndpoint
        fields = [
            "name",
            "mode",
            "base_url",
            "health_check_url",
            "auth_type",
            "rate_limit_per_minute",
            "timeout_seconds",
            "retry_attempts",
            "enabled",
            "check_interval_seconds",
            "startup_grace_seconds",
            "latency_threshold_ms",
            "failure_threshold",
            "recovery_threshold",
            "settings",
            "credentials",
        ]

    def validate_credentials(self, value: Any) -> dict | None:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object or null.")
        return value

    def validate_settings(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def update(self, instance: IntegrationEndpoint, validated_data: dict):
        if "credentials" in validated_data:
            instance.set_credentials(validated_data.pop("credentials"))
        return super().update(instance, validated_data)


class RateLimitStatusSerializer(serializers.Serializer):
    """The outbound rate-limit budget of one endpoint (shared by all processes)."""

    endpoint_id = serializers.IntegerField()
    limit_per_minute = serializers.IntegerField()
    window_seconds = serializers.IntegerField()
    remaining = serializers.IntegerField(
        allow_null=True,
        help_text="Requests left in the window; null when Redis is unreachable.",
    )
    next_slot_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a slot frees while none is left; null while some are.",
    )
    last_retry_after = serializers.FloatField(
        allow_null=True,
        help_text="The wait (seconds) the service last asked for with a 429.",
    )
    last_rate_limited_at = serializers.DateTimeField(
        allow_null=True, help_text="When the service last answered 429."
    )
