"""Reads of health history: raw checks and hourly series over a time range.

Both read one endpoint's rows through the (endpoint, -checked_at) index, and
retention bounds the raw rows per endpoint, so a series costs the same with a
million rows stored as with a thousand. The hourly series combines the stored
aggregates (older rows) with hours computed on the fly from the raw rows
still in range, merging an hour that is partly in both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from integrations.models import (
    HealthAggregate,
    IntegrationEndpoint,
    IntegrationHealthStatus,
)
from integrations.retention import AGGREGATE_FIELDS, hour_of
from integrations.stats import Rollup

RAW_FIELDS = (
    "id",
    "checked_at",
    "status",
    "response_time_ms",
    "status_code",
    "error_message",
    "session_id",
)


def health_raw_series(
    endpoint: IntegrationEndpoint, start: datetime, end: datetime, *, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Checks with ``start <= checked_at <= end``, oldest first.

    At most ``limit`` rows: the newest ones of the range. Returns the rows and
    whether older rows of the range were left out.
    """
    rows = list(
        IntegrationHealthStatus.objects.filter(
            endpoint=endpoint, checked_at__gte=start, checked_at__lte=end
        )
        .order_by("-checked_at", "-id")
        .values(*RAW_FIELDS)[: limit + 1]
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    for row in rows:
        if row["session_id"] is not None:
            row["session_id"] = str(row["session_id"])
    return rows, truncated


def health_hourly_series(
    endpoint: IntegrationEndpoint, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One point per hour from ``start``'s hour to ``end`` that has checks.

    Each point: ``hour``, ``count``, ``failures``, ``p50_ms``, ``p95_ms``,
    ``p99_ms``, ``avg_ms`` (latency figures over answered checks),
    ``status_counts`` and ``source`` (``aggregate``, ``raw`` or ``mixed``).
    """
    first_hour = hour_of(start)
    aggregates = {
        row["hour"]: row
        for row in HealthAggregate.objects.filter(
            endpoint=endpoint, hour__gte=first_hour, hour__lte=end
        ).values("hour", *AGGREGATE_FIELDS)
    }
    rollups: dict[datetime, Rollup] = defaultdict(Rollup)
    for checked_at, status, response_time_ms in (
        IntegrationHealthStatus.objects.filter(
            endpoint=endpoint, checked_at__gte=first_hour, checked_at__lte=end
        )
        .values_list("checked_at", "status", "response_time_ms")
        .iterator(chunk_size=2000)
    ):
        rollups[hour_of(checked_at)].add(status, response_time_ms)

    points = []
    for hour in sorted(set(aggregates) | set(rollups)):
        stored, fresh = aggregates.get(hour), rollups.get(hour)
        if fresh is None:
            fields, source = stored, "aggregate"
        elif stored is None:
            fields, source = fresh.fields(), "raw"
        else:
            fields, source = fresh.fields(stored), "mixed"
        points.append(
            {
                "hour": hour,
                "count": fields["count"],
                "failures": fields["failures"],
                "p50_ms": fields["p50_ms"],
                "p95_ms": fields["p95_ms"],
                "p99_ms": fields["p99_ms"],
                "avg_ms": fields["avg_ms"],
                "status_counts": fields["status_counts"],
                "source": source,
            }
        )
    return points
