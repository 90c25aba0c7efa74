"""A real thread-pool worker and beat, as subprocesses, against the simulators."""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from integrations.models import Alert, IntegrationHealthStatus, NotificationChannel
from sessions.models import TestSession
from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Receiver:
    """A webhook target for Apprise's ``json://`` notifications."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    target = Receiver()
    yield target
    target.stop()


def statuses(endpoint) -> list[str]:
    return list(
        IntegrationHealthStatus.objects.filter(endpoint=endpoint)
        .order_by("checked_at", "id")
        .values_list("status", flat=True)
    )


def test_an_outage_opens_one_down_alert_pauses_the_session_and_flapping_stays_one_alert(
    monitor_stack, sim, second_sim, make_endpoint, tester, receiver
):
    interval = 1
    outage = make_endpoint(
        "payments-node", f"{sim.url}/http/status", check_interval_seconds=interval
    )
    flappy = make_endpoint(
        "flappy-service",
        f"{second_sim.url}/http/status",
        check_interval_seconds=interval,
    )
    good = NotificationChannel(name="ops webhook")
    good.set_url(receiver.url)
    good.save()
    broken = NotificationChannel(name="dead webhook")
    broken.set_url("json://127.0.0.1:9/hook")
    broken.save()
    session = TestSession.objects.create(name="payout run", tester=tester)
    monitor_stack.start()

    def warmed_up():
        monitor_stack.assert_running()
        return statuses(outage)[-2:] == ["HEALTHY"] * 2 and len(statuses(flappy)) >= 2

    wait_until(warmed_up, timeout=40, interval=0.2)
    second_sim.faults(flap_every=2)
    injected = timezone.now()
    sim.faults(outage=True)

    # Outage: UNHEALTHY, and exactly one DOWN alert within two intervals.
    alert = wait_until(
        lambda: Alert.objects.filter(endpoint=outage, kind="DOWN").first(),
        timeout=10,
        interval=0.05,
    )
    delay = (alert.opened_at - injected).total_seconds()
    assert delay <= 2 * interval + 0.5, f"DOWN alert after {delay:.2f} s"
    assert alert.state == "OPEN"
    assert "payments-node is UNHEALTHY" in alert.message

    # The rollback trigger: the session pauses after the third failure.
    def paused():
        session.refresh_from_db()
        return session.status == "PAUSED"

    wait_until(paused, timeout=10, interval=0.05)
    assert "payments-node was UNHEALTHY for 3 consecutive" in session.pause_reason
    failing_in_session = IntegrationHealthStatus.objects.filter(
        endpoint=outage, session=session, status="UNHEALTHY"
    ).count()
    assert failing_in_session == 3
    assert Alert.objects.filter(
        endpoint=outage, kind="SESSION_PAUSED", state="OPEN"
    ).exists()

    # Recovery resolves the alerts; resuming the session is left to a human.
    sim.faults(outage=False)
    wait_until(
        lambda: not Alert.objects.filter(endpoint=outage, state="OPEN").exists(),
        timeout=10,
        interval=0.1,
    )
    assert Alert.objects.filter(endpoint=outage, kind="DOWN").count() == 1
    session.refresh_from_db()
    assert session.status == "PAUSED"

    # Flapping: several failure bursts, one alert.
    def flaps() -> int:
        seen = statuses(flappy)
        return sum(
            1
            for before, after in zip(seen, seen[1:], strict=False)
            if before == "HEALTHY" and after == "UNHEALTHY"
        )

    wait_until(lambda: flaps() >= 4, timeout=30, interval=0.2)
    flap_alerts = Alert.objects.filter(endpoint=flappy, kind="DOWN")
    assert flap_alerts.count() == 1
    assert flap_alerts.get().details["flapping"] is True

    # Notifications went out through the working channel; the broken one
    # recorded its error and held nothing up.
    wait_until(
        lambda: any(
            "payments-node" in message.get("title", "")
            and "Resolved" in message.get("title", "")
            for message in receiver.received
        ),
        timeout=15,
        interval=0.2,
    )
    titles = [message["title"] for message in receiver.received]
    assert any("Alert: Down - payments-node" in title for title in titles)
    assert any("Session paused" in title for title in titles)
    broken.refresh_from_db()
    assert broken.last_error and broken.last_sent_at is None
    good.refresh_from_db()
    assert good.last_error == "" and good.last_sent_at is not None


def test_two_hundred_endpoints_are_all_checked_every_interval_while_one_hangs(
    monitor_stack, sim, make_endpoint
):
    interval = 5
    endpoints = [
        make_endpoint(
            f"svc-{index:03d}",
            f"{sim.url}/http/status",
            check_interval_seconds=interval,
        )
        for index in range(199)
    ]
    hanging = make_endpoint(
        "hanging",
        f"{sim.url}/http/delay/120",
        check_interval_seconds=interval,
        timeout_seconds=8,
    )
    monitor_stack.start()

    def all_checked():
        monitor_stack.assert_running()
        return (
            IntegrationHealthStatus.objects.values("endpoint").distinct().count() >= 199
        )

    wait_until(all_checked, timeout=40, interval=0.5)
    start = timezone.now()
    cpu_before = monitor_stack.cpu_seconds("worker")
    time.sleep(3 * interval + 1)
    cpu_used = monitor_stack.cpu_seconds("worker") - cpu_before
    monitor_stack.assert_running()

    end = timezone.now()
    rows = IntegrationHealthStatus.objects.filter(
        checked_at__gte=start - timedelta(seconds=interval + 2)
    ).values_list("endpoint_id", "checked_at", "status", "response_time_ms", "metadata")
    by_endpoint: dict[int, list] = {}
    skews = []
    for endpoint_id, checked_at, status, response_ms, metadata in rows:
        started = checked_at - timedelta(milliseconds=response_ms)
        by_endpoint.setdefault(endpoint_id, []).append((started, status))
        if "schedule_skew_ms" in metadata and endpoint_id != hanging.pk:
            skews.append(metadata["schedule_skew_ms"])
    # Checked within each interval: from before the window to its end, no
    # endpoint ever waits longer than one interval (+0.5 s) for its next check.
    slack = timedelta(seconds=0.5)
    late = []
    for endpoint in endpoints:
        checks = sorted(by_endpoint.get(endpoint.pk, []))
        assert all(status == "HEALTHY" for _, status in checks), endpoint.name
        times = [started for started, _ in checks]
        before = [moment for moment in times if moment < start]
        assert before, f"{endpoint.name} not checked before the window"
        window = [before[-1], *[t for t in times if t >= start], end]
        gaps = [b - a for a, b in zip(window, window[1:], strict=False)]
        if max(gaps) > timedelta(seconds=interval) + slack:
            late.append((endpoint.name, round(max(gaps).total_seconds(), 2)))
    assert not late, f"{len(late)} endpoints waited too long: {late[:10]}"
    assert len(skews) >= 199 * 3

    # The hanging endpoint times out on one thread, one check at a time. Its
    # timeout (8 s) outlasts the interval (5 s): the check due while one still
    # hangs is skipped, not stacked on a second stuck thread, so its checks
    # start at least 8 s apart.
    def hung_checks():
        return list(
            IntegrationHealthStatus.objects.filter(endpoint=hanging)
            .order_by("checked_at")
            .values_list("status", "checked_at", "response_time_ms")
        )

    hung = wait_until(lambda: len(hung_checks()) >= 2 and hung_checks(), timeout=20)
    assert {status for status, _, _ in hung} == {"TIMEOUT"}
    starts = [at - timedelta(milliseconds=ms) for _, at, ms in hung]
    assert all(
        later - earlier >= timedelta(seconds=8)
        for earlier, later in zip(starts, starts[1:], strict=False)
    )
    skews.sort()
    p95 = skews[int(len(skews) * 0.95)]
    print(
        f"\n200 endpoints / {interval} s: {len(skews)} checks, start skew median "
        f"{statistics.median(skews):.1f} ms, p95 {p95:.1f} ms, worker CPU "
        f"{cpu_used * 1000 / max(len(rows), 1):.1f} ms per check"
    )
    assert p95 < 1000
