"""The rollback trigger, alert notifications through Apprise, and the schedules."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from integrations.alerts import open_alert, send_notifications
from integrations.models import Alert, AuditEvent, NotificationChannel
from integrations.services import endpoint_check
from sessions.models import TestSession
from sessions.services import session_update
from tests.monitoring.test_worker_and_beat import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quiet(quiet_notifications):
    """Notifications queued by checks here are never delivered."""


@pytest.fixture
def failing(sim, make_endpoint):
    endpoint = make_endpoint("banano-node", f"{sim.url}/http/status")
    sim.faults(outage=True)
    return endpoint


def status_of(session: TestSession) -> str:
    session.refresh_from_db()
    return session.status


def test_the_session_pauses_after_the_third_consecutive_failure(failing, tester):
    session = TestSession.objects.create(name="payout run", tester=tester)
    endpoint_check(failing)
    endpoint_check(failing)
    assert status_of(session) == "ACTIVE"
    endpoint_check(failing)
    assert status_of(session) == "PAUSED"
    assert session.pause_reason == (
        "Rollback trigger: banano-node was UNHEALTHY for 3 consecutive health "
        "checks during the session."
    )
    assert session.paused_at is not None
    alert = Alert.objects.get(kind="SESSION_PAUSED")
    assert alert.state == "OPEN" and alert.session_id == session.pk
    assert alert.details["paused_sessions"] == [str(session.pk)]
    event = AuditEvent.objects.get(action="session.update", target_id=str(session.pk))
    assert event.source == "rollback-trigger"
    assert event.actor is None


def test_failures_before_the_session_started_do_not_count(failing, tester):
    for _ in range(4):
        endpoint_check(failing)
    session = TestSession.objects.create(name="late start", tester=tester)
    endpoint_check(failing)
    endpoint_check(failing)
    assert status_of(session) == "ACTIVE"
    endpoint_check(failing)
    assert status_of(session) == "PAUSED"


def test_the_threshold_comes_from_settings(failing, tester, settings):
    settings.ROLLBACK_FAILURE_THRESHOLD = 5
    session = TestSession.objects.create(name="patient", tester=tester)
    for _ in range(4):
        endpoint_check(failing)
    assert status_of(session) == "ACTIVE"
    endpoint_check(failing)
    assert status_of(session) == "PAUSED"


def test_every_active_session_is_paused(failing, tester, second_tester):
    first = TestSession.objects.create(name="one", tester=tester)
    second = TestSession.objects.create(name="two", tester=second_tester)
    for _ in range(3):
        endpoint_check(failing)
    assert status_of(first) == status_of(second) == "PAUSED"


def test_a_tester_who_resumes_is_not_overruled_during_the_same_outage(
    failing, sim, tester
):
    session = TestSession.objects.create(name="stubborn", tester=tester)
    for _ in range(3):
        endpoint_check(failing)
    session_update(session=session, actor=tester, status="ACTIVE")
    for _ in range(4):
        endpoint_check(failing)
    assert status_of(session) == "ACTIVE"

    sim.faults(outage=False)
    endpoint_check(failing)
    endpoint_check(failing)
    paused_alert = Alert.objects.get(kind="SESSION_PAUSED")
    assert paused_alert.state == "RESOLVED"

    # A new outage pauses the session again (the same alert, re-opened).
    sim.faults(outage=True)
    for _ in range(3):
        endpoint_check(failing)
    assert status_of(session) == "PAUSED"
    paused_alert.refresh_from_db()
    assert paused_alert.state == "OPEN"
    assert paused_alert.details["reopened"] == 1


def test_a_rate_limited_endpoint_does_not_pause_the_session(sim, make_endpoint, tester):
    endpoint = make_endpoint("yunite", f"{sim.url}/http/status")
    session = TestSession.objects.create(name="busy", tester=tester)
    sim.faults(rate_limited=True)
    for _ in range(4):
        endpoint_check(endpoint)
    assert status_of(session) == "ACTIVE"


# -------------------------------------------------------------- notifications


@pytest.fixture
def receiver():
    target = Receiver()
    yield target
    target.stop()


def test_an_alert_is_sent_to_every_channel_and_a_failing_one_records_its_error(
    make_endpoint, receiver, settings
):
    other = Receiver()
    try:
        settings.APPRISE_URLS = [other.url]
        endpoint = make_endpoint("wallet", "http://127.0.0.1:9/")
        working = NotificationChannel(name="ops")
        working.set_url(receiver.url)
        working.save()
        dead = NotificationChannel(name="dead")
        dead.set_url("json://127.0.0.1:9/hook")
        dead.save()
        muted = NotificationChannel(name="muted", enabled=False)
        muted.set_url(receiver.url)
        muted.save()
        alert = open_alert(endpoint, "DOWN", message="wallet is UNHEALTHY")

        outcomes = send_notifications(alert.pk, "opened")
    finally:
        other.stop()

    assert outcomes["ops"] == "" and outcomes["APPRISE_URLS[0]"] == ""
    assert "dead" in outcomes and outcomes["dead"]
    assert "muted" not in outcomes
    [message] = receiver.received
    assert message["title"] == "[testenv] Alert: Down - wallet"
    assert "wallet is UNHEALTHY" in message["message"]
    assert message["type"] == "failure"
    assert len(other.received) == 1
    dead.refresh_from_db()
    assert dead.last_error and "127.0.0.1:9/hook" not in dead.last_error
    working.refresh_from_db()
    assert working.last_sent_at is not None and working.last_error == ""
    alert.refresh_from_db()
    assert alert.last_notified_at is not None


def test_a_resolved_alert_is_sent_as_a_success(make_endpoint, receiver):
    from integrations.alerts import resolve_alert

    endpoint = make_endpoint("wallet", "http://127.0.0.1:9/")
    channel = NotificationChannel(name="ops")
    channel.set_url(receiver.url)
    channel.save()
    alert = open_alert(endpoint, "LATENCY", message="slow")
    resolve_alert(alert.pk, endpoint)
    send_notifications(alert.pk, "resolved")
    [message] = receiver.received
    assert message["title"] == "[testenv] Resolved: Latency above baseline - wallet"
    assert message["type"] == "success"


def test_opening_an_alert_queues_its_notification(make_endpoint, redis_client):
    from integrations import monitor_settings as conf

    endpoint = make_endpoint("wallet", "http://127.0.0.1:9/")
    queue = conf.get("MONITOR_NOTIFY_QUEUE")
    before = redis_client.llen(queue)
    open_alert(endpoint, "DOWN", message="down")
    assert redis_client.llen(queue) == before + 1
    assert open_alert(endpoint, "DOWN", message="still down") is None
    assert redis_client.llen(queue) == before + 1


# ------------------------------------------------------------------ schedules


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_schedules", *args, stdout=out)
    return out.getvalue()


def test_sync_schedules_creates_the_owned_tasks_with_an_expiry():
    sync()
    tasks = {task.task: task for task in PeriodicTask.objects.all()}
    assert set(tasks) == {
        "integrations.dispatch_due_checks",
        "integrations.apply_retention",
        "feedback.reconcile_github",
        "testenv.beat_tick",
    }
    dispatcher = tasks["integrations.dispatch_due_checks"]
    assert (dispatcher.interval.every, dispatcher.interval.period) == (5, "seconds")
    assert all(task.expire_seconds for task in tasks.values())
    assert tasks["integrations.apply_retention"].interval.every == 3600
    assert tasks["feedback.reconcile_github"].interval.every == 300
    assert tasks["testenv.beat_tick"].interval.every == 10


def test_sync_schedules_keeps_what_an_operator_changed():
    sync()
    slow, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.filter(task="integrations.dispatch_due_checks").update(
        interval=slow, enabled=False, task="integrations.old_name"
    )
    output = sync()
    assert "updated: integrations: dispatch due health checks" in output
    assert PeriodicTask.objects.count() == 4
    task = PeriodicTask.objects.get(name="integrations: dispatch due health checks")
    assert task.task == "integrations.dispatch_due_checks"
    assert (task.interval.every, task.enabled) == (10, False)

    sync("--reset")
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (5, True)
