"""Attachments added after the issue exists reach its body, edits survive."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from feedback import services
from feedback.models import FeedbackReport
from integrations.simulators import fixtures as fx


def new_report(user) -> FeedbackReport:
    return services.feedback_submit(
        reporter=user,
        title="Payout page blank",
        description="Blank after login.",
        category=FeedbackReport.Category.UX,
    )


def edit_body(sim, number: int, body: str) -> None:
    response = requests.patch(
        f"{sim.api_url}/repos/{fx.GITHUB_REPO}/issues/{number}",
        json={"body": body},
        headers={"Authorization": f"Bearer {fx.GITHUB_TOKEN}"},
        timeout=5,
    )
    response.raise_for_status()


def queued_tasks(redis_client, queue: str) -> list[str]:
    return [
        json.loads(message)["headers"]["task"]
        for message in redis_client.lrange(queue, 0, -1)
    ]


@pytest.mark.django_db
def test_an_attachment_added_after_sync_is_listed_in_the_issue_and_edits_survive(
    github_settings, tester, redis_client, sync_queue,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    report = services.feedback_sync_run(new_report(tester).pk)
    number = report.github_issue_number
    original = github_settings.issue(number)["body"]
    assert "None." in original.split("### Attachments", 1)[1]
    # A developer adds a note at the top of the issue.
    edit_body(github_settings, number, "**Triage:** looks like #12.\n\n" + original)

    with django_capture_on_commit_callbacks(execute=True):
        attachment = services.attachment_add(
            report=report,
            upload=SimpleUploadedFile("console.log", b"TypeError: x is null\n"),
            actor=tester,
        )
    assert queued_tasks(redis_client, sync_queue) == [
        "feedback.update_issue_attachments"
    ]

    outcome = services.feedback_issue_update_attempt(report.pk)

    assert outcome.retry_in is None and outcome.error == ""
    body = github_settings.issue(number)["body"]
    assert body.startswith("**Triage:** looks like #12.")
    assert f"/attachments/{attachment.pk}" in body
    assert "[console.log](" in body
    assert body.rstrip().endswith(f"<!-- testenv-feedback:{report.pk} -->")
    assert body.count("### Attachments") == 1
    # Running it again changes nothing (and sends no PATCH).
    before = len(github_settings.requests_seen())
    services.feedback_issue_update_attempt(report.pk)
    methods = [r["method"] for r in github_settings.requests_seen()[before:]]
    assert "PATCH" not in methods


@pytest.mark.django_db
def test_an_adopted_issue_missing_a_later_attachment_is_brought_up_to_date(
    github_settings, tester, redis_client, sync_queue
):
    github_settings.faults(fail_after_create=1)
    report = new_report(tester)
    assert services.feedback_sync_attempt(report.pk).retry_in is not None
    # Uploaded between the ambiguous first attempt and the retry.
    attachment = services.attachment_add(
        report=report,
        upload=SimpleUploadedFile("later.txt", b"more detail\n"),
        actor=tester,
    )

    outcome = services.feedback_sync_attempt(report.pk, attempt=2)

    assert outcome.state == "SYNCED"
    assert queued_tasks(redis_client, sync_queue) == [
        "feedback.update_issue_attachments"
    ]
    services.feedback_issue_update_attempt(report.pk)
    body = github_settings.issue(outcome.issue_number)["body"]
    assert f"/attachments/{attachment.pk}" in body


@pytest.mark.django_db
def test_an_issue_update_during_an_outage_asks_for_a_retry(github_settings, tester):
    report = services.feedback_sync_run(new_report(tester).pk)
    github_settings.faults(forced_status=502)
    outcome = services.feedback_issue_update_attempt(report.pk)
    assert outcome.retry_in is not None and "502" in outcome.error
    last = services.feedback_issue_update_attempt(report.pk, attempt=4)
    assert last.retry_in is None and "502" in last.error
