"""GET /testing/integrations/{id}/history: raw or hourly health series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.history import health_hourly_series, health_raw_series
from integrations.selectors import endpoint_get
from testenv.api import error_responses
from testenv.permissions import HasAnyRole

DEFAULT_SPAN = timedelta(hours=24)
DEFAULT_RAW_LIMIT = 1000
MAX_RAW_LIMIT = 10000
RESOLUTIONS = ("raw", "hour")


class RawPointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    checked_at = serializers.DateTimeField()
    status = serializers.ChoiceField(["HEALTHY", "DEGRADED", "UNHEALTHY", "TIMEOUT"])
    response_time_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error_message = serializers.CharField()
    session_id = serializers.UUIDField(allow_null=True)


class HourPointSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    count = serializers.IntegerField()
    failures = serializers.IntegerField(help_text="UNHEALTHY and TIMEOUT checks.")
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    avg_ms = serializers.FloatField(allow_null=True)
    status_counts = serializers.DictField(child=serializers.IntegerField())
    source = serializers.ChoiceField(["aggregate", "raw", "mixed"])


HEALTH_HISTORY = inline_serializer(
    "HealthHistory",
    fields={
        "endpoint_id": serializers.IntegerField(),
        "endpoint_name": serializers.CharField(),
        "mode": serializers.CharField(),
        "resolution": serializers.ChoiceField(RESOLUTIONS),
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "baseline_ms": serializers.FloatField(
            allow_null=True, help_text="The learned latency baseline."
        ),
        "truncated": serializers.BooleanField(
            help_text="raw only: older checks of the range were left out (limit)."
        ),
        "points": PolymorphicProxySerializer(
            component_name="HealthHistoryPoint",
            serializers=[RawPointSerializer, HourPointSerializer],
            resource_type_field_name=None,
            many=True,
        ),
    },
)


def _parse_moment(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    invalid = ValidationError({name: ["An ISO 8601 date and time is required."]})
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well-formed but impossible (month 13, offset +25:00)
        raise invalid from None
    if value is None:
        raise invalid
    if timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    # In UTC: PostgreSQL refuses the odd offsets ISO 8601 allows (+22:23).
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed out of range
        raise invalid from None


class HealthHistoryView(APIView):
    """Health history of one endpoint over a time range."""

    permission_classes = [HasAnyRole]

    @extend_schema(
        summary="Health history: raw checks or hourly aggregates over a range",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH),
            OpenApiParameter(
                "from",
                OpenApiTypes.DATETIME,
                description="Start (ISO 8601, default: 24 h before `to`).",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATETIME, description="End (ISO 8601, default: now)."
            ),
            OpenApiParameter(
                "resolution",
                OpenApiTypes.STR,
                enum=list(RESOLUTIONS),
                description="`raw` checks (default) or `hour` aggregates.",
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"raw only: at most this many checks, the newest "
                f"(default {DEFAULT_RAW_LIMIT}, max {MAX_RAW_LIMIT}).",
            ),
        ],
        responses={
            200: HEALTH_HISTORY,
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request: Request, id: int) -> Response:
        endpoint = endpoint_get(id)
        errors: dict[str, list[str]] = {}
        resolution = request.query_params.get("resolution") or "raw"
        if resolution not in RESOLUTIONS:
            errors["resolution"] = [f"Must be one of: {', '.join(RESOLUTIONS)}."]
        try:
            end = _parse_moment(request, "to") or timezone.now()
        except ValidationError as exc:
            errors.update(exc.detail)
            end = timezone.now()
        try:
            start = _parse_moment(request, "from") or end - DEFAULT_SPAN
        except ValidationError as exc:
            errors.update(exc.detail)
            start = end - DEFAULT_SPAN
        if not errors and start > end:
            errors["from"] = ["Must not be after `to`."]
        limit = DEFAULT_RAW_LIMIT
        raw_limit = request.query_params.get("limit")
        if raw_limit not in (None, ""):
            try:
                limit = int(raw_limit)
                if not 1 <= limit <= MAX_RAW_LIMIT:
                    raise ValueError
            except ValueError:
                errors["limit"] = [f"Must be a whole number from 1 to {MAX_RAW_LIMIT}."]
        if errors:
            raise ValidationError(errors)

        truncated = False
        if resolution == "raw":
            points, truncated = health_raw_series(endpoint, start, end, limit=limit)
        else:
            points = health_hourly_series(endpoint, start, end)
        return Response(
            {
                "endpoint_id": endpoint.pk,
                "endpoint_name": endpoint.name,
                "mode": endpoint.mode,
                "resolution": resolution,
                "from": start,
                "to": end,
                "baseline_ms": endpoint.latency_baseline_ms,
                "truncated": truncated,
                "points": points,
            }
        )
