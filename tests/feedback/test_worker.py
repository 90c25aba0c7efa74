"""Submission → a real Celery worker → the GitHub issue, over real sockets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import override_settings

from feedback.models import FeedbackReport
from integrations.simulators import fixtures as fx
from tests.conftest import wait_until

BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_submission_gets_its_issue_number_from_a_real_worker_despite_a_500(
    github_settings, sync_queue, subprocess_env, processes, tester_client
):
    env = {
        **subprocess_env,
        "GITHUB_API_URL": github_settings.api_url,
        "GITHUB_TOKEN": fx.GITHUB_TOKEN,
        "GITHUB_REPO": fx.GITHUB_REPO,
        "FEEDBACK_SYNC_BACKOFF_SECONDS": "0.2",
        "FEEDBACK_GITHUB_SECONDS_BETWEEN_WRITES": "0",
        "FEEDBACK_GITHUB_SECONDS_BETWEEN_REQUESTS": "0",
    }
    worker = processes.start(
        [str(BIN / "celery"), "-A", "testenv", "worker", "--pool", "solo",
         "-Q", sync_queue, "-n", f"{sync_queue}@%h", "-l", "warning"],
        env,
    )  # fmt: skip
    # GitHub creates the issue but answers 500: the worker's second attempt,
    # queued with a countdown on the same queue, must adopt it.
    github_settings.faults(fail_after_create=1)

    with override_settings(FEEDBACK_SYNC_QUEUE=sync_queue):
        response = tester_client.post(
            "/testing/feedback",
            {"title": "From the worker", "description": "d", "category": "OTHER"},
            format="json",
        )
    assert response.status_code == 201
    assert response.json()["sync_state"] == "PENDING"

    def synced():
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        report = FeedbackReport.objects.get(pk=response.json()["id"])
        return report if report.github_issue_number else None

    report = wait_until(synced, timeout=60, interval=0.2)
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert report.sync_attempts == 2
    issues = github_settings.issues_with_marker(report)
    assert [i["number"] for i in issues] == [report.github_issue_number]
