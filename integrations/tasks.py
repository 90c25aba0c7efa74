"""Celery tasks of health monitoring. Each takes ids and calls a service.

Checks wait on the network, not the CPU: run their worker with a thread pool
(``--pool threads --concurrency 32``), so that a hanging endpoint holds one
thread until its own timeout while the others keep checking. Thread pools do
not enforce Celery's time limits; a check is bounded by the endpoint's
``timeout_seconds`` in the outbound layer instead, and the limits below apply
under the prefork pool.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations import monitor_settings as conf
from integrations.models import IntegrationEndpoint

logger = logging.getLogger(__name__)


@shared_task(
    name="integrations.dispatch_due_checks",
    ignore_result=True,
    soft_time_limit=20,
    time_limit=30,
)
def dispatch_due_checks() -> int:
    """Claim the endpoints due soon and send one check per due time (with ETA)."""
    from integrations.scheduling import claim_due_checks

    now = timezone.now()
    queue = conf.get("MONITOR_QUEUE")
    sent = 0
    for claim in claim_due_checks(now):
        for due in claim.due_times:
            # A check that cannot start within its interval is stale: the
            # next one is already planned, so drop it rather than pile up.
            check_endpoint.apply_async(
                args=[claim.endpoint_id, due.isoformat()],
                eta=due if due > now else None,
                expires=due + timedelta(seconds=max(claim.interval_seconds, 1)),
                queue=queue,
            )
            sent += 1
    return sent


def _load_enabled_endpoint(endpoint_id: int) -> IntegrationEndpoint | None:
    # A raw query: compiling the ORM's SELECT of this wide row costs ~0.3 ms
    # of CPU, on a path that runs for every check (SPEC.md section 6).
    # Columns are matched by name, converters applied as usual.
    meta, quote = IntegrationEndpoint._meta, connection.ops.quote_name
    found = list(
        IntegrationEndpoint.objects.raw(
            f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"
            f" AND {quote(meta.get_field('enabled').column)} = %s",
            [endpoint_id, True],
        )
    )
    return found[0] if found else None


@shared_task(
    name="integrations.check_endpoint",
    ignore_result=True,
    soft_time_limit=310,
    time_limit=330,
)
def check_endpoint(endpoint_id: int, scheduled_for: str | None = None) -> str:
    """Check one endpoint now, unless a check of it is still running."""
    from integrations.scheduling import acquire_inflight, release_inflight
    from integrations.services import endpoint_check

    endpoint = _load_enabled_endpoint(endpoint_id)
    if endpoint is None:
        return "skipped: disabled or deleted"
    token = acquire_inflight(endpoint)
    if token is None:
        logger.info("endpoint %s: previous check still running", endpoint_id)
        return "skipped: a check is running"
    try:
        due: datetime | None = parse_datetime(scheduled_for) if scheduled_for else None
        row = endpoint_check(endpoint, scheduled_for=due)
    finally:
        release_inflight(endpoint_id, token)
    return row.status


@shared_task(
    name="integrations.apply_retention",
    ignore_result=True,
    soft_time_limit=1500,
    time_limit=1800,
)
def apply_retention() -> int:
    """Keep the newest raw rows per endpoint, roll the rest into hourly aggregates."""
    from integrations.retention import apply_retention as run

    return sum(run().values())


@shared_task(
    name="integrations.notify_alert",
    ignore_result=True,
    soft_time_limit=110,
    time_limit=120,
)
def notify_alert(alert_id: int, event: str) -> dict[str, str]:
    """Send an alert's ``opened``/``reopened``/``resolved`` event to every channel."""
    from integrations.alerts import send_notifications

    return send_notifications(alert_id, event)
