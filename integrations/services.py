"""Health checks: run a probe, store the result, keep alerts and sessions in step."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from integrations import alerts
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    ProbeResult,
    probe_class,
)
from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from integrations.signals import endpoint_failing_streak
from testenv.realtime import broadcast

logger = logging.getLogger(__name__)

STATUSES = frozenset({HEALTHY, DEGRADED, UNHEALTHY, TIMEOUT})


# The statements of every check, as plain SQL: the ORM spends about 1 ms of
# CPU per check compiling them, a fifth of the per-check budget of SPEC.md
# section 6. Values go through each field's own get_db_prep_save (and model
# defaults apply), so they are stored exactly as the ORM stores them.


@lru_cache(maxsize=1)
def _statements() -> dict[str, Any]:
    quote = connection.ops.quote_name
    health = IntegrationHealthStatus._meta
    fields = [field for field in health.concrete_fields if not field.primary_key]
    endpoint = IntegrationEndpoint._meta
    session = apps.get_model("testsessions", "TestSession")._meta
    return {
        "fields": fields,
        "insert": (
            f"INSERT INTO {quote(health.db_table)} "
            f"({', '.join(quote(field.column) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"RETURNING {quote(health.pk.column)}"
        ),
        "update": (
            f"UPDATE {quote(endpoint.db_table)} SET "
            + ", ".join(
                f"{quote(endpoint.get_field(name).column)} = %s"
                for name in ("last_checked_at", "came_up_at", "latency_baseline_ms")
            )
            + f" WHERE {quote(endpoint.pk.column)} = %s"
        ),
        "session_pk": session.pk,
        "active_session": (
            f"SELECT {quote(session.pk.column)} FROM {quote(session.db_table)} "
            f"WHERE {quote(session.get_field('status').column)} = %s "
            f"ORDER BY {quote(session.get_field('started_at').column)} DESC LIMIT 1"
        ),
    }


def active_session_id() -> Any:
    """The newest ACTIVE test session's id, or None.

    Looked up through the app registry: integrations must not import the
    sessions app (imports flow feedback -> sessions -> integrations).
    """
    statements = _statements()
    with connection.cursor() as cursor:
        cursor.execute(statements["active_session"], ["ACTIVE"])
        found = cursor.fetchone()
    return statements["session_pk"].to_python(found[0]) if found else None


def _insert_health_row(**values: Any) -> IntegrationHealthStatus:
    statements = _statements()
    row = IntegrationHealthStatus(**values)
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)
        for field in statements["fields"]
    ]
    with connection.cursor() as cursor:
        cursor.execute(statements["insert"], params)
        row.pk = cursor.fetchone()[0]
    row._state.adding = False
    row._state.db = connection.alias
    return row


def _update_endpoint_row(endpoint_id: int, **values: Any) -> None:
    """Only the monitoring columns: the dispatcher owns next_check_at and an
    operator may be editing the rest at this very moment."""
    meta = IntegrationEndpoint._meta
    params = [
        meta.get_field(name).get_db_prep_save(values[name], connection)
        for name in ("last_checked_at", "came_up_at", "latency_baseline_ms")
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statements()["update"], [*params, endpoint_id])


def run_probe(endpoint: IntegrationEndpoint) -> ProbeResult:
    """The kind's probe result; a crash of ours becomes UNHEALTHY, never an error."""
    from integrations.http import get_client

    started = time.perf_counter()
    try:
        result = probe_class(endpoint.kind)(endpoint, get_client(endpoint)).check()
    except Exception as exc:
        logger.exception(
            "probe of endpoint %s (%s) crashed", endpoint.pk, endpoint.kind
        )
        result = ProbeResult(
            UNHEALTHY,
            round((time.perf_counter() - started) * 1000),
            error_message=f"probe error: {exc.__class__.__name__}: {exc}"[:500],
        )
    if result.status not in STATUSES:
        result = ProbeResult(
            UNHEALTHY,
            result.response_time_ms,
            result.status_code,
            f"probe returned an unknown status {result.status!r}",
            result.metadata,
        )
    result.response_time_ms = max(int(result.response_time_ms or 0), 0)
    if result.status_code is not None and not 100 <= result.status_code <= 599:
        result.metadata = {**result.metadata, "raw_status_code": result.status_code}
        result.status_code = None
    return result


def apply_startup_grace(
    endpoint: IntegrationEndpoint,
    result: ProbeResult,
    last_raw_status: str | None,
    now: datetime,
) -> tuple[str, dict[str, Any], datetime]:
    """Final status, metadata and ``came_up_at`` for a probe result.

    The endpoint "comes up" at its first check and at the first check after an
    UNHEALTHY one that is not UNHEALTHY itself (a node that refused
    connections and now accepts them, however slowly). A TIMEOUT within
    ``startup_grace_seconds`` of that moment is DEGRADED: a cold Banano node
    answers slowly for its first minute and is not down.
    """
    came_up_at = endpoint.came_up_at
    if came_up_at is None or (
        last_raw_status == UNHEALTHY and result.status != UNHEALTHY
    ):
        came_up_at = now
    status = result.status
    metadata = dict(result.metadata or {})
    grace = endpoint.startup_grace_seconds
    if status == TIMEOUT and grace and (now - came_up_at).total_seconds() <= grace:
        status = DEGRADED
        metadata["startup_grace"] = {
            "raw_status": TIMEOUT,
            "came_up_at": came_up_at.isoformat(),
            "grace_seconds": grace,
            "note": "timeout within the startup grace window counts as DEGRADED",
        }
    return status, metadata, came_up_at


def health_payload(
    row: IntegrationHealthStatus, endpoint: IntegrationEndpoint
) -> dict[str, Any]:
    """The dashboard's ``health_status_update`` data (the API's field names)."""
    from integrations.serializers import redact_by_key

    return {
        "id": row.pk,
        "endpoint_id": endpoint.pk,
        "endpoint_name": endpoint.name,
        "session_id": str(row.session_id) if row.session_id else None,
        "status": row.status,
        "response_time_ms": row.response_time_ms,
        "status_code": row.status_code,
        "error_message": row.error_message,
        "checked_at": row.checked_at,
        "mode": endpoint.mode,
        "metadata": redact_by_key(row.metadata),
    }


def _load_state(endpoint: IntegrationEndpoint) -> tuple[dict, dict, bool]:
    try:
        state, open_alerts = alerts.load_state(endpoint)
        return state, open_alerts, True
    except Exception:
        # Redis away: the check is still stored and alerts still evaluated,
        # from the database, just without the cache.
        logger.warning("monitor state of endpoint %s not in Redis", endpoint.pk)
        open_alerts = alerts.open_alerts_in_db(endpoint.pk)
        return alerts.rebuild_state(endpoint), open_alerts, False


def endpoint_check(
    endpoint: IntegrationEndpoint,
    *,
    session_id: Any = None,
    scheduled_for: datetime | None = None,
) -> IntegrationHealthStatus:
    """Run ``endpoint``'s probe now and record what it found.

    Stores an ``IntegrationHealthStatus`` linked to ``session_id`` or else to
    the ACTIVE session (if any), applies the startup grace and maintains
    ``came_up_at``, learns the latency baseline, opens/resolves alerts (with
    hysteresis; see ``integrations.alerts``) and broadcasts
    ``health_status_update`` / ``alert_opened`` / ``alert_resolved`` after
    commit. A failing check during an ACTIVE session sends
    ``integrations.signals.endpoint_failing_streak`` (the rollback trigger).

    Never raises for what the service does; ``scheduled_for`` (set by the
    scheduler) records the start delay in ``metadata.schedule_skew_ms``.
    Database work: one read of the ACTIVE session, one insert, one update of
    the endpoint row, plus alert rows only when an alert changes.
    """
    started = timezone.now()
    result = run_probe(endpoint)
    checked_at = timezone.now()
    if session_id is None:
        session_id = active_session_id()

    state, open_alerts, cached = _load_state(endpoint)
    status, metadata, came_up_at = apply_startup_grace(
        endpoint, result, state.get("last_raw"), checked_at
    )
    if scheduled_for is not None:
        metadata["schedule_skew_ms"] = round(
            (started - scheduled_for).total_seconds() * 1000, 1
        )
    observation = alerts.Observation.from_values(
        status=status,
        response_time_ms=result.response_time_ms,
        status_code=result.status_code,
        error_message=result.error_message,
        metadata=metadata,
        session_id=session_id,
    )
    evaluation = alerts.evaluate(state, observation, endpoint, open_alerts)
    baseline = evaluation.baseline_ms

    with transaction.atomic():
        row = _insert_health_row(
            endpoint_id=endpoint.pk,
            session_id=session_id,
            status=status,
            response_time_ms=result.response_time_ms,
            status_code=result.status_code,
            error_message=(result.error_message or "")[:2000],
            checked_at=checked_at,
            metadata=metadata,
        )
        _update_endpoint_row(
            endpoint.pk,
            last_checked_at=checked_at,
            came_up_at=came_up_at,
            latency_baseline_ms=baseline,
        )
        alerts.apply_actions(
            endpoint, evaluation.actions, open_alerts, session_id=session_id
        )
        broadcast("health_status_update", health_payload(row, endpoint))

    endpoint.last_checked_at = checked_at
    endpoint.came_up_at = came_up_at
    endpoint.latency_baseline_ms = baseline
    if cached:
        try:
            alerts.save_state(endpoint, state)
        except Exception:
            logger.warning("monitor state of endpoint %s not saved", endpoint.pk)

    if observation.failing and session_id is not None:
        for receiver, response in endpoint_failing_streak.send_robust(
            sender=IntegrationEndpoint,
            endpoint=endpoint,
            session_id=session_id,
            streak=evaluation.session_streak,
            status=status,
        ):
            if isinstance(response, Exception):
                logger.error(
                    "endpoint_failing_streak receiver %r failed",
                    receiver,
                    exc_info=response,
                )
    return row
