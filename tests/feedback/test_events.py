"""Dashboards hear about feedback: the snapshot, and events after commit."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from feedback import services
from feedback.models import FeedbackReport
from testenv.realtime import DASHBOARD_GROUP


class Listener:
    """A channel in the dashboard group of the real (Redis) channel layer."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(DASHBOARD_GROUP, self.channel)

    def events_about(self, report_id: str, count: int) -> list[dict]:
        async def collect() -> list[dict]:
            found: list[dict] = []
            while len(found) < count:
                message = await asyncio.wait_for(
                    self.layer.receive(self.channel), timeout=5
                )
                event = message["event"]
                if event["data"].get("id") == report_id:
                    found.append(event)
            return found

        return async_to_sync(collect)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(DASHBOARD_GROUP, self.channel)


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


@pytest.mark.django_db
def test_submission_and_sync_are_broadcast_after_commit(
    github_settings, tester, listener, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = services.feedback_submit(
            reporter=tester,
            title="Chart stalls",
            description="The response-time chart stops after a reconnect.",
            category=FeedbackReport.Category.PERFORMANCE,
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_sync_run(report.pk)

    submitted, synced = listener.events_about(str(report.pk), 2)
    assert submitted["type"] == "feedback_submitted"
    assert submitted["data"]["sync_state"] == "PENDING"
    assert synced["type"] == "feedback_synced"
    assert synced["data"]["sync_state"] == "SYNCED"
    assert synced["data"]["github_issue_number"] > 0


@pytest.mark.django_db
def test_the_dashboard_snapshot_lists_recent_feedback(github_settings, tester):
    from testenv.dashboard import build_snapshot

    report = services.feedback_submit(
        reporter=tester,
        title="Snapshot me",
        description="d",
        category=FeedbackReport.Category.OTHER,
    )
    recent = build_snapshot(tester)["recent_feedback"]
    assert recent[0]["id"] == str(report.pk)
    assert recent[0]["sync_state"] == "PENDING"
    assert recent[0]["reported_by"] == tester.username


@pytest.mark.django_db
def test_submissions_are_throttled_per_user(github_settings, tester_client):
    rates = {"feedback": "2/min", "workflow": "100/min"}
    body = {"title": "t", "description": "d", "category": "OTHER"}
    with override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": rates,
        }
    ):
        codes = [
            tester_client.post("/testing/feedback", body, format="json").status_code
            for _ in range(3)
        ]
        # Reads are not counted.
        assert tester_client.get("/testing/feedback").status_code == 200
    assert codes == [201, 201, 429]
