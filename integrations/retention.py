"""Bounded storage: newest raw health rows stay, older ones become hourly aggregates.

For each endpoint the newest ``HEALTH_RAW_KEEP`` rows (1000) stay raw; every
older row is folded into the ``HealthAggregate`` of its hour (count, failures,
p50/p95/p99, average, per-status counts and a latency histogram) and deleted,
in chunks, each chunk in one transaction: the aggregate update and the delete
commit together, so a crash never counts a row twice or loses it. An hour that
already has an aggregate (the boundary hour of the previous run) is merged
through its histogram, keeping the percentiles within a bucket (~2.5 %).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from integrations import monitor_settings as conf
from integrations.models import (
    HealthAggregate,
    IntegrationEndpoint,
    IntegrationHealthStatus,
)
from integrations.stats import Rollup
from testenv.redis import get_redis

logger = logging.getLogger(__name__)

LOCK_KEY = "testenv:monitor:retention-lock"
AGGREGATE_FIELDS = [
    "count",
    "failures",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "avg_ms",
    "status_counts",
    "histogram",
]


class RetentionConflict(Exception):
    """Rows changed under a chunk (another run?); the chunk was rolled back."""


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _older_than(at: datetime, pk: int) -> Q:
    return Q(checked_at__lt=at) | Q(checked_at=at, id__lt=pk)


def _not_newer_than(at: datetime, pk: int) -> Q:
    return Q(checked_at__lt=at) | Q(checked_at=at, id__lte=pk)


def retain_endpoint(endpoint_id: int, *, keep: int | None = None) -> int:
    """Roll up all but the newest ``keep`` rows of one endpoint; rows rolled up."""
    keep = keep or conf.get("HEALTH_RAW_KEEP")
    chunk_size = conf.get("HEALTH_RETENTION_CHUNK")
    rows = IntegrationHealthStatus.objects.filter(endpoint_id=endpoint_id)
    boundary = list(
        rows.order_by("-checked_at", "-id").values_list("checked_at", "id")[
            keep - 1 : keep
        ]
    )
    if not boundary:
        return 0
    older = rows.filter(_older_than(*boundary[0]))
    total = 0
    while True:
        chunk = list(
            older.order_by("checked_at", "id").values_list(
                "id", "checked_at", "status", "response_time_ms"
            )[:chunk_size]
        )
        if not chunk:
            return total
        _roll_chunk(endpoint_id, older, chunk)
        total += len(chunk)


def _roll_chunk(endpoint_id: int, older, chunk: list[tuple]) -> None:
    rollups: dict[datetime, Rollup] = defaultdict(Rollup)
    for _pk, checked_at, status, response_time_ms in chunk:
        rollups[hour_of(checked_at)].add(status, response_time_ms)
    last_pk, last_at = chunk[-1][0], chunk[-1][1]
    with transaction.atomic():
        existing = {
            aggregate.hour: aggregate
            for aggregate in HealthAggregate.objects.select_for_update().filter(
                endpoint_id=endpoint_id, hour__in=list(rollups)
            )
        }
        to_create, to_update = [], []
        for hour, rollup in rollups.items():
            aggregate = existing.get(hour)
            if aggregate is None:
                to_create.append(
                    HealthAggregate(
                        endpoint_id=endpoint_id, hour=hour, **rollup.fields()
                    )
                )
                continue
            merged = rollup.fields(
                {name: getattr(aggregate, name) for name in AGGREGATE_FIELDS}
            )
            for name, value in merged.items():
                setattr(aggregate, name, value)
            to_update.append(aggregate)
        HealthAggregate.objects.bulk_create(to_create)
        if to_update:
            HealthAggregate.objects.bulk_update(to_update, AGGREGATE_FIELDS)
        deleted, _ = older.filter(_not_newer_than(last_at, last_pk)).delete()
        if deleted != len(chunk):
            raise RetentionConflict(
                f"endpoint {endpoint_id}: expected to delete {len(chunk)} rows, "
                f"deleted {deleted}"
            )


def apply_retention(*, keep: int | None = None) -> dict[int, int]:
    """Run retention over every endpoint (one run at a time); rows rolled up each."""
    redis = get_redis()
    token = uuid.uuid4().hex
    if not redis.set(LOCK_KEY, token, nx=True, ex=3600):
        logger.info("retention is already running; skipped")
        return {}
    rolled: dict[int, int] = {}
    try:
        for endpoint_id in IntegrationEndpoint.objects.values_list("id", flat=True):
            try:
                count = retain_endpoint(endpoint_id, keep=keep)
            except RetentionConflict:
                logger.warning("retention of endpoint %s rolled back", endpoint_id)
                continue
            if count:
                rolled[endpoint_id] = count
    finally:
        if redis.get(LOCK_KEY) == token.encode():
            redis.delete(LOCK_KEY)
    logger.info("retention rolled up %s rows", sum(rolled.values()))
    return rolled
