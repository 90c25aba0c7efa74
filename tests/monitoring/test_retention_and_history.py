"""Retention keeps 1000 raw rows per endpoint; the history API reads both tiers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from integrations.models import HealthAggregate, IntegrationEndpoint
from integrations.models import IntegrationHealthStatus as Health
from integrations.retention import apply_retention
from integrations.stats import percentile

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def endpoint(name: str) -> IntegrationEndpoint:
    return IntegrationEndpoint.objects.create(
        name=name, kind="http", base_url="http://127.0.0.1:9/status"
    )


def fill(target: IntegrationEndpoint, count: int, start: datetime, seed: int = 1):
    """``count`` checks 10 s apart from ``start``; every 7th fails."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        failing = index % 7 == 3
        rows.append(
            Health(
                endpoint=target,
                status="UNHEALTHY" if failing else "HEALTHY",
                response_time_ms=5000 if failing else rng.randint(20, 400),
                status_code=503 if failing else 200,
                checked_at=start + timedelta(seconds=10 * index),
            )
        )
    Health.objects.bulk_create(rows, batch_size=1000)
    return rows


def totals(target: IntegrationEndpoint) -> tuple[int, int]:
    sums = HealthAggregate.objects.filter(endpoint=target).aggregate(
        count=Sum("count"), failures=Sum("failures")
    )
    return sums["count"] or 0, sums["failures"] or 0


def test_retention_keeps_exactly_the_newest_1000_rows_and_the_counts_add_up():
    first, second, small = endpoint("a"), endpoint("b"), endpoint("c")
    rows_a = fill(first, 2500, T0)
    fill(second, 1400, T0 + timedelta(minutes=7), seed=2)
    fill(small, 400, T0)

    rolled = apply_retention()

    assert rolled == {first.pk: 1500, second.pk: 400}
    for target in (first, second):
        assert Health.objects.filter(endpoint=target).count() == 1000
    assert Health.objects.filter(endpoint=small).count() == 400
    newest = sorted(rows_a, key=lambda row: row.checked_at)[-1000:]
    kept = Health.objects.filter(endpoint=first).order_by("checked_at")
    assert kept.first().checked_at == newest[0].checked_at

    old = sorted(rows_a, key=lambda row: row.checked_at)[:1500]
    assert totals(first) == (1500, sum(row.status == "UNHEALTHY" for row in old))
    assert totals(second) == (400, sum(1 for i in range(400) if i % 7 == 3))
    assert not HealthAggregate.objects.filter(endpoint=small).exists()

    # Each hour holds exactly its rows, with exact percentiles of its answers.
    first_hour = HealthAggregate.objects.get(endpoint=first, hour=T0)
    in_hour = [row for row in old if row.checked_at < T0 + timedelta(hours=1)]
    answered = sorted(r.response_time_ms for r in in_hour if r.status == "HEALTHY")
    assert first_hour.count == len(in_hour) == 360
    assert first_hour.p50_ms == percentile(answered, 50)
    assert first_hour.p95_ms == percentile(answered, 95)
    assert first_hour.p99_ms == percentile(answered, 99)
    assert first_hour.status_counts == {
        "HEALTHY": len(answered),
        "UNHEALTHY": len(in_hour) - len(answered),
    }


def test_a_second_run_merges_the_boundary_hour_and_still_adds_up():
    target = endpoint("a")
    fill(target, 1300, T0)
    apply_retention()
    fill(target, 700, T0 + timedelta(seconds=10 * 1300), seed=3)
    apply_retention()
    assert Health.objects.filter(endpoint=target).count() == 1000
    assert totals(target)[0] == 1000
    boundary = HealthAggregate.objects.get(endpoint=target, hour=T0)
    assert boundary.count == 360
    # Merged through the histogram: within one bucket (5 %) of the exact value.
    assert boundary.p95_ms == pytest.approx(380, rel=0.06)


def test_retention_with_nothing_to_roll_up_changes_nothing():
    target = endpoint("a")
    fill(target, 1000, T0)
    assert apply_retention() == {}
    assert Health.objects.count() == 1000
    assert not HealthAggregate.objects.exists()


# ----------------------------------------------------------------- history API


@pytest.fixture
def history_endpoint():
    target = endpoint("history")
    fill(target, 1360, T0)  # 3 h 46 min of checks
    apply_retention()  # the first 360 (08:00-09:00) become one aggregate
    return target


def url(target, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/testing/integrations/{target.pk}/history?{query}"


def test_raw_history_returns_the_checks_of_the_range_oldest_first(
    tester_client, history_endpoint
):
    response = tester_client.get(
        url(
            history_endpoint,
            **{"from": "2026-01-05T09:00:00Z", "to": "2026-01-05T09:59:59Z"},
        )
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resolution"] == "raw" and body["truncated"] is False
    points = body["points"]
    assert len(points) == 360
    assert points[0]["checked_at"] == "2026-01-05T09:00:00Z"
    assert points[0].keys() >= {
        "status",
        "response_time_ms",
        "status_code",
        "checked_at",
        "session_id",
    }
    assert points == sorted(points, key=lambda point: point["checked_at"])


def test_raw_history_keeps_the_newest_rows_when_limited(
    tester_client, history_endpoint
):
    body = tester_client.get(
        url(history_endpoint, limit=10, **{"from": "2026-01-05T00:00:00Z"})
        + "&to=2026-01-06T00:00:00Z"
    ).json()
    assert body["truncated"] is True
    assert len(body["points"]) == 10
    assert body["points"][-1]["checked_at"] == "2026-01-05T11:46:30Z"


def test_hourly_history_combines_aggregates_and_recent_raw_rows(
    owner_client, history_endpoint
):
    body = owner_client.get(
        url(
            history_endpoint,
            resolution="hour",
            **{"from": "2026-01-05T08:00:00Z", "to": "2026-01-05T12:00:00Z"},
        )
    ).json()
    points = body["points"]
    assert [point["hour"][11:16] for point in points] == [
        "08:00",
        "09:00",
        "10:00",
        "11:00",
    ]
    assert [point["source"] for point in points] == ["aggregate", "raw", "raw", "raw"]
    assert sum(point["count"] for point in points) == 1360
    assert [point["count"] for point in points] == [360, 360, 360, 280]
    assert sum(point["failures"] for point in points) == sum(
        1 for i in range(1360) if i % 7 == 3
    )
    assert all(
        point["p50_ms"] <= point["p95_ms"] <= point["p99_ms"] for point in points
    )


def test_an_hour_partly_rolled_up_is_merged_in_the_hourly_history(owner_client):
    target = endpoint("split")
    fill(target, 1100, T0 + timedelta(minutes=30))  # the boundary is mid-hour
    apply_retention()
    body = owner_client.get(
        url(
            target,
            resolution="hour",
            **{"from": "2026-01-05T08:00:00Z", "to": "2026-01-05T12:00:00Z"},
        )
    ).json()
    assert body["points"][0]["source"] == "mixed"
    assert body["points"][0]["count"] == 180
    assert sum(point["count"] for point in body["points"]) == 1100


def test_history_defaults_to_the_last_day(tester_client, history_endpoint):
    Health.objects.create(
        endpoint=history_endpoint, status="HEALTHY", checked_at=timezone.now()
    )
    body = tester_client.get(url(history_endpoint)).json()
    assert len(body["points"]) == 1
    assert body["endpoint_name"] == "history" and body["mode"] == "SIMULATED"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"resolution": "minute"}, "resolution"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-13-01T00:00:00Z"}, "from"),
        ({"to": "2026-01-01T00:00:00+25:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
        ({"from": "2026-01-06T00:00:00Z", "to": "2026-01-05T00:00:00Z"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_history_parameters_are_a_400_with_the_field(
    tester_client, history_endpoint, params, field
):
    response = tester_client.get(url(history_endpoint, **params))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["details"]


def test_odd_but_valid_offsets_are_read_as_utc(tester_client, history_endpoint):
    # PostgreSQL refuses offsets like +22:23 in a query; ISO 8601 allows them.
    response = tester_client.get(
        url(history_endpoint, **{"from": "0071-11-19T20:18:04+22:23"})
    )
    assert response.status_code == 200, response.json()


def test_history_of_an_unknown_endpoint_is_a_404(tester_client):
    response = tester_client.get("/testing/integrations/999999/history")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_history_needs_a_role(api_client, outsider, history_endpoint):
    assert api_client.get(url(history_endpoint)).status_code == 401
    api_client.force_authenticate(outsider)
    response = api_client.get(url(history_endpoint))
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
