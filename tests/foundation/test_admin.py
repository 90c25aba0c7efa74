"""The operator admin renders for operators, refuses outsiders, never shows secrets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from feedback.models import FeedbackReport
from integrations.models import (
    Alert,
    AuditEvent,
    IntegrationEndpoint,
    IntegrationHealthStatus,
)
from sessions.models import TestResult, TestSession

pytestmark = pytest.mark.django_db

SECRET = "sim-yunite-token-do-not-show"


@pytest.fixture
def world(tester) -> dict:
    endpoint = IntegrationEndpoint(
        name="yunite-sim", kind="yunite", base_url="http://127.0.0.1:8765/yunite/api"
    )
    endpoint.set_credentials({"api_token": SECRET})
    endpoint.save()
    session = TestSession.objects.create(name="smoke", tester=tester)
    IntegrationHealthStatus.objects.create(
        endpoint=endpoint, status="HEALTHY", response_time_ms=12, status_code=200
    )
    TestResult.objects.create(
        session=session,
        endpoint=endpoint,
        test_name="yunite_user_lookup",
        status="PASSED",
        started_at=timezone.now(),
        completed_at=timezone.now() + timezone.timedelta(milliseconds=5),
    )
    FeedbackReport.objects.create(
        title="Lookup slow",
        description="3 s",
        category="PERFORMANCE",
        reported_by=tester,
    )
    Alert.objects.create(endpoint=endpoint, kind="DOWN", message="2 failures")
    return {"endpoint": endpoint, "session": session}


ADMIN_PAGES = [
    "admin:integrations_integrationendpoint_changelist",
    "admin:integrations_integrationendpoint_add",
    "admin:integrations_integrationhealthstatus_changelist",
    "admin:integrations_alert_changelist",
    "admin:integrations_notificationchannel_changelist",
    "admin:integrations_auditevent_changelist",
    "admin:integrations_healthaggregate_changelist",
    "admin:testsessions_testsession_changelist",
    "admin:testsessions_testresult_changelist",
    "admin:feedback_feedbackreport_changelist",
]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_render_for_an_operator(client, superuser, world, name):
    client.force_login(superuser)
    response = client.get(reverse(name))
    assert response.status_code == 200


def test_change_pages_render_with_the_inlines(client, superuser, world):
    client.force_login(superuser)
    session = world["session"]
    page = client.get(
        reverse("admin:testsessions_testsession_change", args=[session.pk])
    )
    assert page.status_code == 200
    assert "yunite_user_lookup" in page.content.decode()
    endpoint = world["endpoint"]
    page = client.get(
        reverse("admin:integrations_integrationendpoint_change", args=[endpoint.pk])
    )
    assert page.status_code == 200


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_refuse_an_outsider(client, outsider, world, name):
    client.force_login(outsider)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_pages_refuse_anonymous_visitors(client, world):
    response = client.get(reverse("admin:integrations_integrationendpoint_changelist"))
    assert response.status_code == 302


def test_the_endpoint_pages_never_show_the_credentials(client, superuser, world):
    client.force_login(superuser)
    endpoint = world["endpoint"]
    for url in (
        reverse("admin:integrations_integrationendpoint_changelist"),
        reverse("admin:integrations_integrationendpoint_change", args=[endpoint.pk]),
    ):
        body = client.get(url).content.decode()
        assert SECRET not in body
        assert endpoint.credentials_encrypted not in body


def test_the_health_list_shows_the_latest_status(client, superuser, world):
    client.force_login(superuser)
    body = client.get(
        reverse("admin:integrations_integrationendpoint_changelist")
    ).content.decode()
    assert "HEALTHY" in body


def _endpoint_form(endpoint: IntegrationEndpoint, **overrides) -> dict:
    data = {
        "name": endpoint.name,
        "kind": endpoint.kind,
        "mode": endpoint.mode,
        "enabled": "on",
        "base_url": endpoint.base_url,
        "health_check_url": "",
        "auth_type": "API_KEY",
        "timeout_seconds": 10,
        "retry_attempts": 2,
        "rate_limit_per_minute": 60,
        "check_interval_seconds": 30,
        "startup_grace_seconds": 0,
        "latency_threshold_ms": "",
        "failure_threshold": 2,
        "recovery_threshold": 2,
        "settings": "{}",
        "credentials": "",
    }
    data.update(overrides)
    return data


def test_credentials_typed_in_the_admin_are_stored_encrypted(client, superuser, world):
    client.force_login(superuser)
    endpoint = world["endpoint"]
    url = reverse("admin:integrations_integrationendpoint_change", args=[endpoint.pk])
    response = client.post(
        url, _endpoint_form(endpoint, credentials='{"api_token": "rotated-token-42"}')
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint.refresh_from_db()
    assert endpoint.get_credentials() == {"api_token": "rotated-token-42"}
    assert "rotated-token-42" not in endpoint.credentials_encrypted
    event = AuditEvent.objects.filter(source="admin").first()
    assert event is not None and event.actor == superuser
    assert "rotated-token-42" not in str(event.changes)


def test_an_empty_credentials_field_keeps_the_stored_ones(client, superuser, world):
    client.force_login(superuser)
    endpoint = world["endpoint"]
    url = reverse("admin:integrations_integrationendpoint_change", args=[endpoint.pk])
    assert (
        client.post(url, _endpoint_form(endpoint, timeout_seconds=20)).status_code
        == 302
    )
    endpoint.refresh_from_db()
    assert endpoint.timeout_seconds == 20
    assert endpoint.get_credentials() == {"api_token": SECRET}


def test_invalid_credentials_json_is_refused_without_echoing_it(
    client, superuser, world
):
    client.force_login(superuser)
    endpoint = world["endpoint"]
    url = reverse("admin:integrations_integrationendpoint_change", args=[endpoint.pk])
    response = client.post(
        url, _endpoint_form(endpoint, credentials="{not-json s3cr3t")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Not valid JSON" in body
    assert "s3cr3t" not in body


def test_session_actions_pause_and_resume(client, superuser, world):
    client.force_login(superuser)
    session = world["session"]
    url = reverse("admin:testsessions_testsession_changelist")
    client.post(url, {"action": "pause", "_selected_action": [str(session.pk)]})
    session.refresh_from_db()
    assert session.status == "PAUSED"
    assert "in the admin" in session.pause_reason
    client.post(url, {"action": "resume", "_selected_action": [str(session.pk)]})
    session.refresh_from_db()
    assert session.status == "ACTIVE"
    client.post(url, {"action": "complete", "_selected_action": [str(session.pk)]})
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert session.ended_at is not None


def test_an_illegal_admin_transition_is_refused_with_a_message(
    client, superuser, world
):
    client.force_login(superuser)
    session = world["session"]
    url = reverse("admin:testsessions_testsession_changelist")
    client.post(url, {"action": "complete", "_selected_action": [str(session.pk)]})
    response = client.post(
        url, {"action": "resume", "_selected_action": [str(session.pk)]}, follow=True
    )
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert "cannot become ACTIVE" in response.content.decode()


def test_staff_without_model_permissions_sees_no_models(client, world):
    staff = User.objects.create_user("staff-only", password="pw-x-1", is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("admin:integrations_integrationendpoint_changelist"))
    assert response.status_code == 403
