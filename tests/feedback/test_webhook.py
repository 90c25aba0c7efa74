"""POST /testing/github/webhook: HMAC over the raw body, replays harmless."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.utils import timezone

from feedback import services
from feedback.models import FeedbackReport, WebhookDelivery
from feedback.webhooks import expected_signature
from integrations.models import AuditEvent
from integrations.simulators import fixtures as fx
from tests.api.conftest import assert_envelope
from tests.conftest import wait_until
from tests.feedback.conftest import WEBHOOK_SECRET

URL = "/testing/github/webhook"


def test_the_signature_matches_githubs_published_test_vector():
    assert expected_signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.fixture
def synced(github_settings, tester) -> FeedbackReport:
    report = services.feedback_submit(
        reporter=tester,
        title="Leaderboard empty",
        description="No rows after a payout.",
        category=FeedbackReport.Category.UX,
    )
    report = services.feedback_sync_run(report.pk)
    assert report.github_issue_number
    return report


def issue_payload(report, action, *, state, reason=None, updated=None, repo=None):
    now = (updated or timezone.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "action": action,
        "issue": {
            "number": report.github_issue_number,
            "html_url": report.github_issue_url,
            "state": state,
            "state_reason": reason,
            "closed_at": now if state == "closed" else None,
            "updated_at": now,
            "created_at": now,
        },
        "repository": {"full_name": repo or fx.GITHUB_REPO},
        "sender": {"login": "pay2slay-maintainer"},
    }


def deliver(client, payload, *, event="issues", delivery=None, secret=WEBHOOK_SECRET,
            signature=None, drop_signature=False):  # fmt: skip
    body = json.dumps(payload).encode()
    headers = {
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4()),
    }
    if not drop_signature:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature or expected_signature(
            secret, body
        )
    return client.post(URL, data=body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_signed_closed_event_resolves_the_report(client, synced):
    response = deliver(client, issue_payload(synced, "closed", state="closed",
                                             reason="completed"))  # fmt: skip
    assert response.status_code == 204
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.RESOLVED
    assert synced.resolved_at is not None
    assert AuditEvent.objects.filter(
        action="feedback.status_from_github", source="webhook"
    ).exists()


@pytest.mark.django_db
def test_closed_as_not_planned_closes_and_reopened_opens_again(client, synced):
    deliver(client, issue_payload(synced, "closed", state="closed",
                                  reason="not_planned"))  # fmt: skip
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.CLOSED

    deliver(client, issue_payload(synced, "reopened", state="open",
                                  reason="reopened"))  # fmt: skip
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.OPEN
    assert synced.resolved_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"drop_signature": True}, 401),
        ({"secret": "not-the-secret"}, 403),
        ({"signature": "sha256=" + "0" * 64}, 403),
        ({"signature": "sha1=0123"}, 403),
    ],
    ids=["missing", "other-secret", "zeros", "sha1"],
)
def test_a_wrong_or_missing_signature_changes_nothing(client, synced, kwargs, status):
    payload = issue_payload(synced, "closed", state="closed", reason="completed")
    assert_envelope(deliver(client, payload, **kwargs), status)
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.OPEN
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_body_changed_after_signing_is_refused(client, synced):
    payload = issue_payload(synced, "closed", state="closed", reason="completed")
    signature = expected_signature(WEBHOOK_SECRET, json.dumps(payload).encode())
    payload["issue"]["state_reason"] = "not_planned"
    assert_envelope(deliver(client, payload, signature=signature), 403)


@pytest.mark.django_db
def test_without_a_configured_secret_every_delivery_is_refused(
    client, synced, settings
):
    settings.GITHUB_WEBHOOK_SECRET = ""
    payload = issue_payload(synced, "closed", state="closed", reason="completed")
    body = json.dumps(payload).encode()
    unsigned_key = hmac.new(b"", body, hashlib.sha256).hexdigest()
    assert_envelope(deliver(client, payload, signature=f"sha256={unsigned_key}"), 403)


@pytest.mark.django_db
def test_a_replayed_delivery_is_harmless(client, synced):
    delivery = str(uuid.uuid4())
    closed = issue_payload(synced, "closed", state="closed", reason="completed")
    assert deliver(client, closed, delivery=delivery).status_code == 204
    reopened = issue_payload(synced, "reopened", state="open")
    assert deliver(client, reopened, delivery=str(uuid.uuid4())).status_code == 204
    # The first delivery again (GitHub's "redeliver"): acknowledged, ignored.
    assert deliver(client, closed, delivery=delivery).status_code == 204
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.OPEN
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db
def test_an_older_event_arriving_late_does_not_undo_a_newer_one(client, synced):
    later = timezone.now()
    earlier = later - timezone.timedelta(minutes=5)
    deliver(client, issue_payload(synced, "reopened", state="open", updated=later))
    deliver(client, issue_payload(synced, "closed", state="closed",
                                  reason="completed", updated=earlier))  # fmt: skip
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.OPEN


@pytest.mark.django_db
def test_ping_other_events_and_other_repositories_are_acknowledged_only(client, synced):
    assert deliver(client, {"zen": "Keep it logically awesome."},
                   event="ping").status_code == 204  # fmt: skip
    labeled = issue_payload(synced, "labeled", state="closed", reason="completed")
    assert deliver(client, labeled).status_code == 204
    elsewhere = issue_payload(synced, "closed", state="closed", reason="completed",
                              repo="someone/else")  # fmt: skip
    assert deliver(client, elsewhere).status_code == 204
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.OPEN


@pytest.mark.django_db
def test_a_form_encoded_delivery_is_understood(client, synced):
    from urllib.parse import urlencode

    payload = issue_payload(synced, "closed", state="closed", reason="completed")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = client.post(
        URL,
        data=body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_GITHUB_EVENT="issues",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=expected_signature(WEBHOOK_SECRET, body),
    )
    assert response.status_code == 204
    synced.refresh_from_db()
    assert synced.status == FeedbackReport.Status.RESOLVED


@pytest.mark.django_db
def test_a_signed_delivery_without_a_delivery_id_is_a_400(client, synced):
    body = b"{}"
    response = client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="issues",
        HTTP_X_HUB_SIGNATURE_256=expected_signature(WEBHOOK_SECRET, body),
    )
    assert_envelope(response, 400)


@pytest.mark.django_db(transaction=True)
def test_the_simulator_closing_the_issue_reaches_the_report_over_http(
    github_settings, tester, live_server
):
    report = services.feedback_submit(
        reporter=tester,
        title="Closed upstream",
        description="Fixed by the developers.",
        category=FeedbackReport.Category.INTEGRATION,
    )
    report = services.feedback_sync_run(report.pk)
    github_settings.add_webhook(f"{live_server.url}{URL}")

    result = github_settings.close(report.github_issue_number, "completed")
    assert [d["status_code"] for d in result["deliveries"]] == [204]
    report.refresh_from_db()
    assert report.status == FeedbackReport.Status.RESOLVED

    result = github_settings.reopen(report.github_issue_number)
    assert [d["status_code"] for d in result["deliveries"]] == [204]
    wait_until(
        lambda: FeedbackReport.objects.get(pk=report.pk).status == "OPEN", timeout=5
    )
