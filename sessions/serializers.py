"""API representations of test sessions and results (SPEC §1, §2)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from integrations.serializers import HealthStatusSerializer
from sessions.models import TestResult, TestSession


class TestSessionSerializer(serializers.ModelSerializer):
    tester_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = TestSession
        fields = [
            "id",
            "name",
            "description",
            "status",
            "created_at",
            "started_at",
            "ended_at",
            "tester_id",
            "configuration",
            "pause_reason",
            "paused_at",
        ]
        read_only_fields = fields


def validate_configuration(value: Any) -> dict:
    """A JSON object; the keys testenv reads must have sensible values."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    if "max_payment_ban" in value:
        cap = value["max_payment_ban"]
        try:
            if isinstance(cap, bool):
                raise TypeError
            amount = Decimal(str(cap))
        except (InvalidOperation, TypeError, ValueError):
            raise serializers.ValidationError(
                {"max_payment_ban": "Must be a number of BAN."}
            ) from None
        if not amount.is_finite() or amount < 0:
            raise serializers.ValidationError(
                {"max_payment_ban": "Must be zero or more BAN."}
            )
    return value


class SessionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    tester_id = serializers.IntegerField(
        help_text="The tester who runs the session. Testers may only give their "
        "own id; operators may create sessions for any tester."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    configuration = serializers.JSONField(required=False, default=dict)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("May not be blank.")
        return value.strip()

    def validate_configuration(self, value: Any) -> dict:
        return validate_configuration(value)

    def validate_tester_id(self, value: int):
        from testenv.roles import is_tester

        user = get_user_model().objects.filter(pk=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No active user with id {value}.")
        if not is_tester(user):
            raise serializers.ValidationError(f"User {value} is not a tester.")
        return value


class SessionUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=TestSession.Status.choices,
        required=False,
        help_text="Target status; the transition must be allowed (else 409).",
    )
    configuration = serializers.JSONField(
        required=False, help_text="Replaces the configuration object."
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why (kept as the pause reason when pausing).",
    )

    def validate_configuration(self, value: Any) -> dict:
        return validate_configuration(value)


class SessionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TestSession.Status.choices, required=False)
    tester_id = serializers.IntegerField(required=False, min_value=1)


class TestResultSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(read_only=True)
    endpoint_id = serializers.IntegerField(read_only=True)
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)
    endpoint_kind = serializers.CharField(source="endpoint.kind", read_only=True)

    class Meta:
        model = TestResult
        fields = [
            "id",
            "session_id",
            "endpoint_id",
            "endpoint_name",
            "endpoint_kind",
            "test_name",
            "status",
            "started_at",
            "completed_at",
            "request_data",
            "response_data",
            "assertions",
            "error_details",
            "mode",
            "duration_ms",
            "trace_id",
        ]
        read_only_fields = fields


class ResultListQuerySerializer(serializers.Serializer):
    endpoint_id = serializers.IntegerField(required=False, min_value=1)


class ResultCreateSerializer(serializers.Serializer):
    endpoint_id = serializers.IntegerField(
        min_value=1, help_text="The endpoint to run the workflow on."
    )
    test_name = serializers.CharField(
        max_length=100, help_text="A workflow name, e.g. yunite_user_lookup."
    )
    test_data = serializers.JSONField(
        required=False,
        allow_null=True,
        default=dict,
        help_text="The workflow's input; missing keys come from the endpoint's "
        "configured test identities.",
    )

    def validate_test_data(self, value: Any) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_endpoint_id(self, value: int):
        from integrations.models import IntegrationEndpoint

        endpoint = IntegrationEndpoint.objects.filter(pk=value).first()
        if endpoint is None:
            raise serializers.ValidationError(f"No integration endpoint {value}.")
        return endpoint


class FeedbackSummarySerializer(serializers.Serializer):
    """A feedback report as the session detail shows it.

    Declared field by field (not a ModelSerializer) because imports flow
    feedback → sessions: this app reads the reports through the reverse
    relation without importing the feedback app.
    """

    id = serializers.UUIDField()
    session_id = serializers.UUIDField(allow_null=True)
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    priority = serializers.CharField()
    status = serializers.CharField()
    github_issue_number = serializers.IntegerField(allow_null=True)
    github_issue_url = serializers.SerializerMethodField(
        help_text="Null until the issue exists (as in the feedback API)."
    )
    reported_by_id = serializers.IntegerField()
    reported_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    sync_state = serializers.CharField()

    def get_github_issue_url(self, report: Any) -> str | None:
        return report.github_issue_url or None


class TestSessionDetailSerializer(TestSessionSerializer):
    """A session with its newest 100 results, feedback reports and health
    checks, and the total count of each."""

    test_results = TestResultSerializer(
        many=True, read_only=True, source="detail_test_results"
    )
    test_results_count = serializers.IntegerField(
        read_only=True, source="detail_test_results_count"
    )
    feedback_reports = FeedbackSummarySerializer(
        many=True, read_only=True, source="detail_feedback_reports"
    )
    feedback_reports_count = serializers.IntegerField(
        read_only=True, source="detail_feedback_reports_count"
    )
    health_statuses = HealthStatusSerializer(
        many=True, read_only=True, source="detail_health_statuses"
    )
    health_statuses_count = serializers.IntegerField(
        read_only=True, source="detail_health_statuses_count"
    )

    class Meta(TestSessionSerializer.Meta):
        fields = [
            *TestSessionSerializer.Meta.fields,
            "test_results",
            "test_results_count",
            "feedback_reports",
            "feedback_reports_count",
            "health_statuses",
            "health_statuses_count",
        ]
        read_only_fields = fields

    def to_representation(self, instance: TestSession) -> dict[str, Any]:
        from sessions.selectors import session_detail_parts

        for key, value in session_detail_parts(instance).items():
            setattr(instance, f"detail_{key}", value)
        return super().to_representation(instance)


class CompensationReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint_id = serializers.IntegerField()
    workflow = serializers.CharField()
    action = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=["PENDING", "DONE", "FAILED"])
    done_at = serializers.DateTimeField(allow_null=True)
    result = serializers.DictField(child=serializers.JSONField())


class CleanupReportSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    undone = serializers.IntegerField(help_text="Compensations that succeeded now.")
    failed = serializers.IntegerField(help_text="Compensations that failed now.")
    already_done = serializers.IntegerField(
        help_text="Compensations done by an earlier cleanup."
    )
    feedback_kept = serializers.IntegerField(
        help_text="Feedback reports of the session, which cleanup never removes."
    )
    compensations = CompensationReportSerializer(many=True)
