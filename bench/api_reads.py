"""Scenario 3: API reads with a million health rows stored.

The database gets 1,000,000 ``IntegrationHealthStatus`` rows (``--quick``:
100,000) over 50 endpoints, written the fast way (SQLite: ``executemany`` in
one transaction; PostgreSQL: ``COPY``, then ``ANALYZE`` as autovacuum would):
one row per endpoint every 30 s, oldest first, so ids grow with time as they
do in production, about a week of history per endpoint. An ACTIVE session
started four hours ago owns the rows of its time span (as the check service
links them), plus 200 test results and 20 feedback reports.

Then daphne serves, and one client sends these reads in turn over one
keep-alive connection with a DRF token, the baseline ``GET /healthz`` among
them:

- ``GET /testing/integrations`` — every endpoint with its latest check;
- ``GET /testing/integrations/{id}/health`` — the latest check;
- ``GET /testing/sessions/{id}`` — the session with its newest 100 results,
  reports and health rows and their counts;
- ``GET /testing/integrations/{id}/history?from=&to=`` — the last hour, raw;
- ``GET /testing/integrations/{id}/history?resolution=hour`` — the last 24 h
  as hourly points.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bench.common import (
    HttpClient,
    Probe,
    Row,
    Target,
    describe,
    log,
    measure_interleaved,
    percentile,
)
from bench.fixtures import api_token, http_endpoints, tester
from bench.stack import Context, start_web, wait_web

SCENARIO = "3 api"
ENDPOINTS = 50
SPACING_SECONDS = 30
SESSION_HOURS = 4
BATCH = 50_000


def _health_rows(
    endpoint_ids: list[int],
    per_endpoint: int,
    newest: datetime,
    session_id: uuid.UUID,
    session_start: datetime,
):
    """Rows oldest first: (endpoint, session, status, ms, code, error, at, metadata)."""
    phase = SPACING_SECONDS / len(endpoint_ids)
    for step in range(per_endpoint - 1, -1, -1):
        base = newest - timedelta(seconds=step * SPACING_SECONDS)
        for position, endpoint_id in enumerate(endpoint_ids):
            at = base - timedelta(seconds=position * phase)
            serial = step * 7919 + position * 104729
            if serial % 97 == 0:
                status, code, error = "UNHEALTHY", 503, "HTTP 503 Service Unavailable"
            elif serial % 41 == 0:
                status, code, error = "DEGRADED", 200, "answered slowly"
            else:
                status, code, error = "HEALTHY", 200, ""
            yield (
                endpoint_id,
                session_id if at >= session_start else None,
                status,
                20 + serial % 180,
                code,
                error,
                at,
            )


def _bulk_insert(rows, total: int) -> float:
    """Insert ``rows``; returns the seconds it took."""
    from django.db import connection, transaction

    from integrations.models import IntegrationHealthStatus

    meta = IntegrationHealthStatus._meta
    columns = [
        meta.get_field(name).column
        for name in (
            "endpoint",
            "session",
            "status",
            "response_time_ms",
            "status_code",
            "error_message",
            "checked_at",
            "metadata",
        )
    ]
    quote_name = connection.ops.quote_name
    table = quote_name(meta.db_table)
    column_list = ", ".join(quote_name(c) for c in columns)
    session_field = meta.get_field("session")
    prepared_sessions: dict = {}

    def session_value(value):
        if value not in prepared_sessions:
            prepared_sessions[value] = session_field.get_db_prep_value(
                value, connection
            )
        return prepared_sessions[value]

    started = time.monotonic()
    done = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sql = f"COPY {table} ({column_list}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row((*row, "{}"))
                    done += 1
                    if done % 200_000 == 0:
                        log(f"  {done:,} / {total:,} rows")
            cursor.execute(f"ANALYZE {table}")
    else:
        adapt = connection.ops.adapt_datetimefield_value
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})"
        with transaction.atomic(), connection.cursor() as cursor:
            batch = []
            for endpoint_id, session, status, ms, code, error, at in rows:
                batch.append(
                    (
                        endpoint_id,
                        session_value(session),
                        status,
                        ms,
                        code,
                        error,
                        adapt(at),
                        "{}",
                    )
                )
                if len(batch) == BATCH:
                    cursor.executemany(sql, batch)
                    done += len(batch)
                    batch = []
                    if done % 200_000 == 0:
                        log(f"  {done:,} / {total:,} rows")
            if batch:
                cursor.executemany(sql, batch)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.monotonic() - started


def _session_with_results(user, endpoint_ids: list[int], started_at: datetime):
    from django.utils import timezone

    from feedback.models import FeedbackReport
    from sessions.models import TestResult, TestSession

    session = TestSession.objects.create(
        name="Benchmark session",
        description="A tester's afternoon against the simulators.",
        tester=user,
        status=TestSession.Status.ACTIVE,
        started_at=started_at,
    )
    now = timezone.now()
    TestResult.objects.bulk_create(
        [
            TestResult(
                session=session,
                endpoint_id=endpoint_ids[index % len(endpoint_ids)],
                test_name="yunite_user_lookup",
                status="PASSED" if index % 10 else "FAILED",
                started_at=now - timedelta(seconds=60 * (200 - index)),
                completed_at=now - timedelta(seconds=60 * (200 - index) - 1),
                request_data={"discord_user_id": "123456789012345678"},
                response_data={"status": 200, "body": {"users": [], "notLinked": []}},
                assertions=[
                    {"name": "status", "expected": 200, "actual": 200, "passed": True}
                ],
                duration_ms=120,
            )
            for index in range(200)
        ]
    )
    for index in range(20):
        FeedbackReport.objects.create(
            session=session,
            title=f"Report {index}",
            description="Observed during the benchmark session.",
            category="INTEGRATION",
            priority="MEDIUM",
            reported_by=user,
            sync_state=FeedbackReport.SyncState.DISABLED,
        )
    return session


def _database_bytes() -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
        else:
            cursor.execute(
                "SELECT page_count * page_size FROM pragma_page_count(), "
                "pragma_page_size()"
            )
        return int(cursor.fetchone()[0])


def run(ctx: Context) -> list[Row]:
    from django.db import connection

    from integrations.models import IntegrationHealthStatus

    total = 100_000 if ctx.quick else 1_000_000
    rounds = 20 if ctx.quick else 200
    per_endpoint = total // ENDPOINTS
    user = tester()
    token = api_token(user)
    # Never checked (no worker runs); the URL is never called.
    ids = http_endpoints(
        ENDPOINTS, "http://127.0.0.1:9/status", prefix="bench-api", enabled=False
    )
    newest = datetime.now(UTC) - timedelta(seconds=5)
    session_start = newest - timedelta(hours=SESSION_HOURS)
    session = _session_with_results(user, ids, session_start)
    log(f"inserting {total:,} health rows over {ENDPOINTS} endpoints")
    insert_seconds = _bulk_insert(
        _health_rows(ids, per_endpoint, newest, session.pk, session_start), total
    )
    stored = IntegrationHealthStatus.objects.count()
    in_session = IntegrationHealthStatus.objects.filter(session=session).count()
    size = _database_bytes()
    connection.close()
    log(
        f"{stored:,} rows in {insert_seconds:.1f} s "
        f"({in_session:,} in the session); database {size / 2**20:.0f} MB"
    )

    web = start_web(ctx)
    wait_web(ctx, web)
    client = HttpClient(
        web, {"Authorization": f"Token {token}", "Accept": "application/json"}
    )
    hour_ago = quote((newest - timedelta(hours=1)).isoformat())
    until = quote((newest + timedelta(minutes=1)).isoformat())

    def endpoint(i: int) -> int:
        return ids[i % len(ids)]

    probes = [
        Probe("healthz", lambda i: ("GET", "/healthz", None)),
        Probe("list", lambda i: ("GET", "/testing/integrations", None)),
        Probe(
            "health",
            lambda i: ("GET", f"/testing/integrations/{endpoint(i)}/health", None),
        ),
        Probe("session", lambda i: ("GET", f"/testing/sessions/{session.pk}", None)),
        Probe(
            "history_raw",
            lambda i: (
                "GET",
                f"/testing/integrations/{endpoint(i)}/history"
                f"?from={hour_ago}&to={until}",
                None,
            ),
        ),
        Probe(
            "history_hour",
            lambda i: (
                "GET",
                f"/testing/integrations/{endpoint(i)}/history?resolution=hour",
                None,
            ),
        ),
    ]
    log(f"{rounds} rounds of {len(probes)} reads, taking turns")
    samples = measure_interleaved(client, probes, rounds)
    client.close()

    baseline = percentile(samples["healthz"], 95)
    what = "GET /healthz p95 on the same daphne, requests taking turns"
    ctx.info.update(
        rows=stored,
        rows_in_session=in_session,
        insert_seconds=round(insert_seconds, 1),
        database_bytes=size,
        latency_ms={label: describe(values) for label, values in samples.items()},
    )
    labels = {
        "list": f"GET /testing/integrations ({ENDPOINTS} endpoints) p95",
        "health": "GET /testing/integrations/{id}/health p95",
        "session": "GET /testing/sessions/{id} p95",
        "history_raw": "GET /testing/integrations/{id}/history (last hour, raw) p95",
        "history_hour": "GET /testing/integrations/{id}/history?resolution=hour "
        "(24 h) p95",
    }
    notes = {
        "list": f"{stored:,} health rows stored ({size / 2**20:.0f} MB database)",
        "session": f"the session owns {in_session:,} health rows, 200 results, "
        "20 reports",
        "history_raw": f"about {3600 // SPACING_SECONDS} points per response",
        "history_hour": f"24 points from about {24 * 3600 // SPACING_SECONDS} raw "
        "rows per response",
    }
    return [
        Row.make(
            SCENARIO,
            text,
            percentile(samples[label], 95),
            "ms",
            Target("<", 50, "ms"),
            baseline,
            what,
            notes.get(label, ""),
            p50=percentile(samples[label], 50),
            p99=percentile(samples[label], 99),
        )
        for label, text in labels.items()
    ]
