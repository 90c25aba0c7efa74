"""The operator's side: filters, the FAILED report's error, "retry sync",
the pre-filled new-issue link, attachments and read-only deliveries."""

from __future__ import annotations

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from feedback import services
from feedback.models import FeedbackReport, WebhookDelivery

CHANGELIST = "/admin/feedback/feedbackreport/"


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def failed(github_settings, tester) -> FeedbackReport:
    github_settings.faults(forced_status=502)
    report = services.feedback_submit(
        reporter=tester,
        title="Discord login loops",
        description="After authorize the page reloads forever.",
        category=FeedbackReport.Category.INTEGRATION,
        priority=FeedbackReport.Priority.CRITICAL,
        uploads=[SimpleUploadedFile("trace.log", b"GET /callback 302\n")],
    )
    report = services.feedback_sync_run(report.pk, sleep=lambda s: None)
    github_settings.clear_faults()
    assert report.sync_state == FeedbackReport.SyncState.FAILED
    return report


@pytest.mark.django_db
def test_the_changelist_filters_by_sync_state_status_priority_and_category(
    admin_client, failed
):
    page = admin_client.get(
        CHANGELIST,
        {"sync_state__exact": "FAILED", "status__exact": "OPEN",
         "priority__exact": "CRITICAL", "category__exact": "INTEGRATION"},
    )  # fmt: skip
    assert page.status_code == 200
    assert "Discord login loops" in page.content.decode()
    empty = admin_client.get(CHANGELIST, {"sync_state__exact": "SYNCED"})
    assert "Discord login loops" not in empty.content.decode()


@pytest.mark.django_db
def test_a_failed_report_shows_its_error_the_new_issue_link_and_attachments(
    admin_client, failed
):
    page = html.unescape(
        admin_client.get(f"{CHANGELIST}{failed.pk}/change/").content.decode()
    )
    assert "GitHub answered 502" in page
    assert "/pay2slay/pay2slay2/issues/new?title=Discord+login+loops" in page
    attachment = failed.attachments.get()
    assert f"/testing/feedback/{failed.pk}/attachments/{attachment.pk}" in page
    assert "trace.log" in page


@pytest.mark.django_db
def test_the_retry_sync_action_queues_one_round_that_files_one_issue(
    admin_client, failed, github_settings, redis_client, sync_queue,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "retry_sync", "_selected_action": [str(failed.pk)]},
            follow=True,
        )
    assert "Queued the GitHub sync of 1 report(s)." in response.content.decode()
    failed.refresh_from_db()
    assert failed.sync_state == FeedbackReport.SyncState.PENDING
    assert failed.sync_last_error == ""
    queued = redis_client.lrange(sync_queue, 0, -1)
    assert len(queued) == 1
    assert str(failed.pk) in json.loads(queued[0])["headers"]["argsrepr"]

    report = services.feedback_sync_run(failed.pk)
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert len(github_settings.issues_with_marker(report)) == 1

    # Retrying a synced report is refused with a message, not an error page.
    response = admin_client.post(
        CHANGELIST,
        {"action": "retry_sync", "_selected_action": [str(report.pk)]},
        follow=True,
    )
    assert "Already synced as issue" in response.content.decode()


@pytest.mark.django_db
def test_changing_the_status_in_the_admin_keeps_resolved_at_consistent(
    admin_client, failed
):
    url = f"{CHANGELIST}{failed.pk}/change/"
    form = {
        "title": failed.title,
        "description": failed.description,
        "category": failed.category,
        "priority": failed.priority,
        "status": "RESOLVED",
        "metadata": "{}",
        "attachments-TOTAL_FORMS": "1",
        "attachments-INITIAL_FORMS": "1",
        "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
        "attachments-0-id": str(failed.attachments.get().pk),
        "attachments-0-feedback": str(failed.pk),
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    failed.refresh_from_db()
    assert failed.status == "RESOLVED" and failed.resolved_at is not None
    admin_client.post(url, {**form, "status": "OPEN"})
    failed.refresh_from_db()
    assert failed.status == "OPEN" and failed.resolved_at is None


@pytest.mark.django_db
def test_webhook_deliveries_are_read_only(admin_client):
    delivery = WebhookDelivery.objects.create(
        delivery_id="d-1", event="issues", action="closed", issue_number=3
    )
    listing = admin_client.get("/admin/feedback/webhookdelivery/")
    assert listing.status_code == 200 and "d-1" in listing.content.decode()
    assert admin_client.get("/admin/feedback/webhookdelivery/add/").status_code == 403
    detail = admin_client.get(f"/admin/feedback/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
