"""Claiming due checks: compare-and-set, phases, one check per endpoint at a time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import monitor_settings as conf
from integrations.models import IntegrationEndpoint
from integrations.scheduling import (
    acquire_inflight,
    claim_due_checks,
    phase,
    release_inflight,
)

pytestmark = pytest.mark.django_db(transaction=True)


def make(count: int, **fields) -> list[IntegrationEndpoint]:
    return IntegrationEndpoint.objects.bulk_create(
        IntegrationEndpoint(
            name=f"ep-{index:03d}",
            kind="http",
            base_url="http://127.0.0.1:9/status",
            **fields,
        )
        for index in range(count)
    )


def test_a_due_endpoint_is_claimed_once_and_moved_one_interval_on():
    now = timezone.now()
    [endpoint] = make(1, check_interval_seconds=30, next_check_at=now)
    [claim] = claim_due_checks(now, lookahead_seconds=5)
    assert claim.endpoint_id == endpoint.pk
    assert claim.due_times == [now]
    endpoint.refresh_from_db()
    assert endpoint.next_check_at == now + timedelta(seconds=30)
    assert claim_due_checks(now, lookahead_seconds=5) == []


def test_a_short_interval_gets_every_due_time_within_the_lookahead():
    now = timezone.now()
    make(1, check_interval_seconds=2, next_check_at=now + timedelta(seconds=1))
    [claim] = claim_due_checks(now, lookahead_seconds=6)
    assert claim.due_times == [now + timedelta(seconds=s) for s in (1, 3, 5)]


def test_schedules_keep_their_phase_when_the_dispatcher_runs_late():
    now = timezone.now()
    due = now - timedelta(seconds=3)
    [endpoint] = make(1, check_interval_seconds=30, next_check_at=due)
    [claim] = claim_due_checks(now, lookahead_seconds=5)
    assert claim.due_times == [due]
    endpoint.refresh_from_db()
    assert endpoint.next_check_at == due + timedelta(seconds=30)


def test_new_and_long_overdue_endpoints_are_spread_over_the_next_interval():
    now = timezone.now()
    fresh = make(50, check_interval_seconds=10)
    IntegrationEndpoint.objects.filter(pk__in=[e.pk for e in fresh[25:]]).update(
        next_check_at=now - timedelta(hours=2)
    )
    claims = claim_due_checks(now, lookahead_seconds=1)
    assert len(claims) == 50
    # New endpoints are spread over the whole interval; long-overdue ones over
    # the interval less the restart margin (half of 10 s here), so that all
    # are checked within one interval even of a late first dispatch.
    overdue = {e.pk for e in fresh[25:]}
    spread = 10 - min(5, conf.get("MONITOR_RESTART_MARGIN_SECONDS"))
    for endpoint in IntegrationEndpoint.objects.all():
        offset = (endpoint.next_check_at - now).total_seconds()
        assert 0 <= offset <= 11
        width = spread if endpoint.pk in overdue else 10
        assert abs(offset % 10 - width * phase(endpoint.pk)) < 0.01
    sent = sum(len(claim.due_times) for claim in claims)
    assert 0 < sent < 25  # only those whose phase falls within the lookahead


def test_disabled_endpoints_are_not_claimed():
    make(1, enabled=False)
    assert claim_due_checks(timezone.now(), lookahead_seconds=60) == []


def test_a_claim_loses_to_a_dispatcher_that_moved_the_schedule_first():
    from integrations.scheduling import _compare_and_set

    now = timezone.now()
    [endpoint] = make(1, next_check_at=now)
    moved = now + timedelta(seconds=30)
    assert _compare_and_set([(endpoint.pk, now, moved)]) == [endpoint.pk]
    assert _compare_and_set([(endpoint.pk, now, moved)]) == []


def test_concurrent_dispatchers_never_claim_one_endpoint_twice():
    now = timezone.now()
    make(300, check_interval_seconds=30, next_check_at=now)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            claims = claim_due_checks(now, lookahead_seconds=5, batch=300)
            results.append([claim.endpoint_id for claim in claims])
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [pk for result in results for pk in result]
    assert len(results) == 4
    assert len(claimed) == len(set(claimed)) == 300


def test_a_scheduled_check_is_skipped_while_the_previous_one_runs(sim, make_endpoint):
    from integrations.models import IntegrationHealthStatus
    from integrations.tasks import check_endpoint

    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    token = acquire_inflight(endpoint)
    assert token
    assert acquire_inflight(endpoint) is None
    assert check_endpoint.run(endpoint.pk) == "skipped: a check is running"
    assert not IntegrationHealthStatus.objects.exists()
    release_inflight(endpoint.pk, token)
    assert check_endpoint.run(endpoint.pk, timezone.now().isoformat()) == "HEALTHY"
    row = IntegrationHealthStatus.objects.get()
    assert row.metadata["schedule_skew_ms"] >= 0


def test_a_check_of_a_disabled_endpoint_is_dropped(make_endpoint):
    from integrations.tasks import check_endpoint

    endpoint = make_endpoint("svc", "http://127.0.0.1:9/", enabled=False)
    assert check_endpoint.run(endpoint.pk) == "skipped: disabled or deleted"
