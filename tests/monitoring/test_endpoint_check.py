"""endpoint_check against the simulators: rows, grace, alerts, broadcasts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Alert, IntegrationHealthStatus
from integrations.services import endpoint_check

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quiet(quiet_notifications):
    """Every test here queues its notifications where nobody runs them."""


def test_a_healthy_check_is_stored_with_its_timing_and_updates_the_endpoint(
    sim, make_endpoint
):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    row = endpoint_check(endpoint)
    assert row.status == "HEALTHY"
    assert row.status_code == 200
    assert row.session_id is None
    assert 0 <= row.response_time_ms < 1000
    endpoint.refresh_from_db()
    assert endpoint.last_checked_at == row.checked_at
    assert endpoint.came_up_at == row.checked_at


def test_a_check_is_linked_to_the_active_session(sim, make_endpoint, tester):
    from sessions.models import TestSession

    session = TestSession.objects.create(name="s", tester=tester)
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    assert endpoint_check(endpoint).session_id == session.pk
    session.transition_to("COMPLETED")
    session.save()
    assert endpoint_check(endpoint).session_id is None


def test_an_outage_opens_one_down_alert_after_two_checks_and_recovery_resolves_it(
    sim, make_endpoint
):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    endpoint_check(endpoint)
    sim.faults(outage=True)
    first = endpoint_check(endpoint)
    assert first.status == "UNHEALTHY"
    assert not Alert.objects.exists()
    endpoint_check(endpoint)
    endpoint_check(endpoint)
    alert = Alert.objects.get()
    assert (alert.kind, alert.state) == ("DOWN", "OPEN")
    assert "svc is UNHEALTHY" in alert.message

    sim.faults(outage=False)
    endpoint_check(endpoint)
    assert Alert.objects.get().state == "OPEN"
    endpoint_check(endpoint)
    alert.refresh_from_db()
    assert alert.state == "RESOLVED" and alert.resolved_at is not None
    assert Alert.objects.count() == 1


def test_a_service_answering_429_opens_a_rate_limited_alert(sim, make_endpoint):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(rate_limited=True, retry_after=1)
    rows = [endpoint_check(endpoint) for _ in range(2)]
    assert [row.status for row in rows] == ["DEGRADED", "DEGRADED"]
    assert list(Alert.objects.values_list("kind", flat=True)) == ["RATE_LIMITED"]


def test_latency_raised_to_four_times_the_baseline_opens_a_latency_alert(
    sim, make_endpoint
):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(latency_ms=40)
    for _ in range(20):
        endpoint_check(endpoint)
    endpoint.refresh_from_db()
    baseline = endpoint.latency_baseline_ms
    assert 40 <= baseline < 60

    sim.faults(latency_ms=4 * baseline)
    for _ in range(4):
        endpoint_check(endpoint)
    alert = Alert.objects.get()
    assert alert.kind == "LATENCY"
    assert alert.details["p95_ms"] > 3 * alert.details["baseline_ms"]


def test_latency_raised_to_twice_the_baseline_opens_no_alert(sim, make_endpoint):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(latency_ms=40)
    for _ in range(20):
        endpoint_check(endpoint)
    endpoint.refresh_from_db()
    sim.faults(latency_ms=2 * endpoint.latency_baseline_ms)
    for _ in range(10):
        endpoint_check(endpoint)
    assert not Alert.objects.exists()


def test_a_timeout_inside_the_startup_grace_window_counts_as_degraded(
    sim, make_endpoint
):
    endpoint = make_endpoint(
        "banano-like",
        f"{sim.url}/http/delay/30",
        timeout_seconds=1,
        startup_grace_seconds=60,
    )
    row = endpoint_check(endpoint)
    assert row.status == "DEGRADED"
    assert row.metadata["startup_grace"]["raw_status"] == "TIMEOUT"
    assert row.metadata["startup_grace"]["grace_seconds"] == 60

    # Long after the endpoint came up, a timeout is a timeout again.
    endpoint.came_up_at = timezone.now() - timedelta(minutes=5)
    endpoint.save(update_fields=["came_up_at"])
    assert endpoint_check(endpoint).status == "TIMEOUT"


def test_an_endpoint_comes_up_again_after_an_outage(sim, make_endpoint):
    endpoint = make_endpoint(
        "banano-like", f"{sim.url}/http/status", startup_grace_seconds=60
    )
    endpoint.came_up_at = timezone.now() - timedelta(hours=1)
    endpoint.save(update_fields=["came_up_at"])
    endpoint_check(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.came_up_at < timezone.now() - timedelta(minutes=30)

    sim.faults(outage=True)
    endpoint_check(endpoint)
    sim.faults(outage=False)
    back = endpoint_check(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.came_up_at == back.checked_at


def test_the_state_survives_the_loss_of_redis_state(sim, make_endpoint):
    from integrations.alerts import forget_state

    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(outage=True)
    endpoint_check(endpoint)
    forget_state(endpoint.pk)
    endpoint_check(endpoint)
    assert Alert.objects.filter(kind="DOWN", state="OPEN").count() == 1
    forget_state(endpoint.pk)
    sim.faults(outage=False)
    endpoint_check(endpoint)
    forget_state(endpoint.pk)
    endpoint_check(endpoint)
    assert Alert.objects.get().state == "RESOLVED"


def test_an_alert_resolved_by_hand_is_noticed(sim, make_endpoint, settings):
    settings.MONITOR_OPEN_ALERTS_REFRESH_SECONDS = 0
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(outage=True)
    for _ in range(2):
        endpoint_check(endpoint)
    Alert.objects.update(state="RESOLVED", resolved_at=timezone.now())
    settings.MONITOR_REOPEN_SECONDS = 0
    endpoint_check(endpoint)
    assert Alert.objects.filter(state="OPEN").count() == 1
    assert Alert.objects.count() == 2


def test_health_and_alert_events_reach_the_dashboard_group(sim, make_endpoint):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    name = f"svc-{uuid.uuid4().hex[:8]}"  # other test runs share the group
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("dashboard", channel)
    try:
        endpoint = make_endpoint(name, f"{sim.url}/http/status")
        sim.faults(outage=True)
        endpoint_check(endpoint)
        endpoint_check(endpoint)
        events = []
        while len(events) < 3:
            event = async_to_sync(layer.receive)(channel)["event"]
            if event["data"].get("endpoint_name") == name:
                events.append(event)
    finally:
        async_to_sync(layer.group_discard)("dashboard", channel)
    kinds = [event["type"] for event in events]
    assert kinds == ["health_status_update", "alert_opened", "health_status_update"]
    assert events[0]["data"]["status"] == "UNHEALTHY"
    assert events[0]["data"]["mode"] == "SIMULATED"
    assert events[1]["data"]["kind"] == "DOWN"
    assert events[1]["data"]["state"] == "OPEN"


def test_a_probe_that_crashes_is_recorded_as_unhealthy(make_endpoint):
    from integrations.kinds.base import _PROBES, Probe, register_probe

    class CrashingProbe(Probe):
        kind = "crashing-test-kind"

        def check(self):
            raise RuntimeError("bug in a probe")

    register_probe(CrashingProbe)
    try:
        endpoint = make_endpoint("svc", "http://127.0.0.1:9/", kind=CrashingProbe.kind)
        row = endpoint_check(endpoint)
    finally:
        _PROBES.pop(CrashingProbe.kind, None)
    assert row.status == "UNHEALTHY"
    assert row.error_message == "probe error: RuntimeError: bug in a probe"
    assert IntegrationHealthStatus.objects.count() == 1


def test_a_cold_banano_node_is_degraded_within_its_grace_window(sim, make_endpoint):
    import requests

    from integrations.simulators import fixtures as fx

    node = make_endpoint(
        "banano",
        f"{sim.url}/banano/",
        kind="banano",
        timeout_seconds=1,
        startup_grace_seconds=60,
        settings={
            "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
            "min_balance_ban": fx.BANANO_MIN_OPERATOR_BALANCE_BAN,
            "expected_network": fx.BANANO_NETWORK,
        },
    )
    assert endpoint_check(node).status == "HEALTHY"

    # The node restarts: refused connections, then a cold node that accepts
    # connections but answers nothing for a while.
    sim.faults("banano", outage=True)
    assert endpoint_check(node).status == "UNHEALTHY"
    sim.faults("banano", outage=False)
    requests.post(
        f"{sim.url}/_control/banano/cold_restart", json={"seconds": 30}, timeout=5
    )
    cold = endpoint_check(node)
    assert cold.status == "DEGRADED"
    assert cold.metadata["startup_grace"]["raw_status"] == "TIMEOUT"
    assert cold.metadata["cold_start_suspected"] is True
    node.refresh_from_db()
    assert node.came_up_at == cold.checked_at
    assert not Alert.objects.filter(kind="DOWN").exists()


def test_a_check_is_still_stored_and_alerted_when_redis_is_unreachable(
    sim, make_endpoint, settings
):
    endpoint = make_endpoint("svc", f"{sim.url}/http/status")
    sim.faults(outage=True)
    endpoint_check(endpoint)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    row = endpoint_check(endpoint)
    assert row.status == "UNHEALTHY"
    assert IntegrationHealthStatus.objects.count() == 2
    # The rules ran from the database: the second failure opened the alert.
    assert Alert.objects.get().kind == "DOWN"
