"""The periodic reconcile: what webhooks and lost tasks missed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from feedback import services
from feedback.models import FeedbackReport


@pytest.fixture(autouse=True)
def _no_cursor(redis_client):
    redis_client.delete(services.RECONCILE_CURSOR_KEY)
    yield
    redis_client.delete(services.RECONCILE_CURSOR_KEY)


def synced_report(user) -> FeedbackReport:
    report = services.feedback_submit(
        reporter=user,
        title="Balance shown in raw",
        description="The wallet page shows 10^29 digits.",
        category=FeedbackReport.Category.UX,
    )
    return services.feedback_sync_run(report.pk)


@pytest.mark.django_db
def test_an_issue_closed_without_a_delivered_webhook_is_picked_up(
    github_settings, tester
):
    report = synced_report(tester)
    # No webhook registered: GitHub's delivery never reaches us.
    github_settings.close(report.github_issue_number, "not_planned")

    counts = services.feedback_reconcile()

    report.refresh_from_db()
    assert report.status == FeedbackReport.Status.CLOSED
    assert report.resolved_at is not None
    assert counts["status_changed"] == 1
    # Run again: nothing new.
    assert services.feedback_reconcile()["status_changed"] == 0


@pytest.mark.django_db
def test_a_pending_report_whose_task_was_lost_is_queued_again(
    github_settings, tester, redis_client, sync_queue
):
    report = services.feedback_submit(
        reporter=tester,
        title="Lost task",
        description="The broker lost the message.",
        category=FeedbackReport.Category.OTHER,
    )
    FeedbackReport.objects.filter(pk=report.pk).update(
        reported_at=timezone.now() - timedelta(hours=1)
    )
    fresh = services.feedback_submit(
        reporter=tester,
        title="Fresh",
        description="Just submitted; its task is on its way.",
        category=FeedbackReport.Category.OTHER,
    )

    counts = services.feedback_reconcile()

    assert counts["requeued"] == 1
    queued = [
        json.loads(m)["headers"]["argsrepr"]
        for m in redis_client.lrange(sync_queue, 0, -1)
    ]
    assert len(queued) == 1 and str(report.pk) in queued[0]
    assert str(fresh.pk) not in queued[0]
    # Now scheduled: the next run leaves it alone.
    assert services.feedback_reconcile()["requeued"] == 0


@pytest.mark.django_db
def test_the_reconcile_task_is_registered_under_its_schedule_name():
    from testenv.celery import app

    assert "feedback.reconcile_github" in app.tasks
    assert "feedback.sync_github" in app.tasks


@pytest.mark.django_db
def test_reconcile_without_github_settings_does_nothing(no_github):
    assert services.feedback_reconcile() == {
        "requeued": 0,
        "issues_seen": 0,
        "status_changed": 0,
    }
