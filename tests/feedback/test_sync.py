"""The GitHub sync against the simulator over a real socket: one issue per
report, whatever GitHub does."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from feedback import services
from feedback.models import FeedbackReport
from integrations.simulators import fixtures as fx

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def submit(user, session=None, **extra) -> FeedbackReport:
    values = {
        "title": "Payout never arrives",
        "description": "I sent 1 BAN and the balance did not change.",
        "category": FeedbackReport.Category.INTEGRATION,
        "priority": FeedbackReport.Priority.HIGH,
        "session": session,
        **extra,
    }
    return services.feedback_submit(reporter=user, **values)


class RecordingSleep:
    """Really sleeps (the simulator keeps real time), and remembers how long;
    ``then`` runs after each sleep to change the simulator between attempts."""

    def __init__(self, then=None) -> None:
        self.waits: list[float] = []
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)
        if self.then is not None:
            self.then(len(self.waits))


@pytest.mark.django_db
def test_a_submitted_report_gets_its_issue_number_with_labels(github_settings, tester):
    report = submit(tester)
    assert report.sync_state == FeedbackReport.SyncState.PENDING

    report = services.feedback_sync_run(report.pk)

    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    issues = github_settings.issues_with_marker(report)
    assert len(issues) == 1
    assert report.github_issue_number == issues[0]["number"]
    assert report.github_issue_url == issues[0]["html_url"]
    assert report.sync_attempts == 1 and report.sync_last_error == ""
    assert {label["name"] for label in issues[0]["labels"]} == {
        "category:integration",
        "priority:high",
    }
    assert {"category:integration", "priority:high"} <= github_settings.labels()
    assert issues[0]["title"] == "Payout never arrives"


@pytest.mark.django_db
def test_a_token_that_may_not_create_labels_still_files_the_issue(
    github_settings, tester
):
    with override_settings(GITHUB_TOKEN=fx.GITHUB_READONLY_TOKEN):
        report = services.feedback_sync_run(submit(tester).pk)
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    issue = github_settings.issue(report.github_issue_number)
    assert issue["labels"] == []  # dropped by GitHub for lack of push access
    assert "category:integration" not in github_settings.labels()


@pytest.mark.django_db
def test_the_first_attempt_creates_without_listing_issues_first(
    github_settings, tester
):
    report = submit(tester)
    services.feedback_sync_run(report.pk)
    seen = [
        (r["method"], r["path"].split("?")[0]) for r in github_settings.requests_seen()
    ]
    issue_path = f"/github/repos/{fx.GITHUB_REPO}/issues"
    assert ("POST", issue_path) in seen
    assert ("GET", issue_path) not in seen


@pytest.mark.django_db
def test_a_500_after_github_created_the_issue_yields_exactly_one_issue(
    github_settings, tester
):
    github_settings.faults(fail_after_create=1)
    report = submit(tester)

    report = services.feedback_sync_run(report.pk, sleep=RecordingSleep())

    issues = github_settings.issues_with_marker(report)
    assert len(issues) == 1, [i["number"] for i in issues]
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert report.github_issue_number == issues[0]["number"]
    # The second attempt found the first one's issue by its marker.
    assert report.sync_attempts == 2


@pytest.mark.django_db
def test_repeated_ambiguous_failures_still_file_one_issue(github_settings, tester):
    # Every create "fails" after creating: only the first may ever create.
    github_settings.faults(fail_after_create=3)
    report = submit(tester)

    report = services.feedback_sync_run(report.pk, sleep=RecordingSleep())

    assert len(github_settings.issues_with_marker(report)) == 1
    assert report.sync_state == FeedbackReport.SyncState.SYNCED


@pytest.mark.django_db
def test_a_secondary_rate_limit_is_waited_out_for_its_retry_after(
    github_settings, tester
):
    github_settings.faults(secondary_rate_limit={"count": 1, "retry_after": 1})
    report = submit(tester)
    sleep = RecordingSleep()
    started = time.monotonic()

    report = services.feedback_sync_run(report.pk, sleep=sleep)

    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert len(github_settings.issues_with_marker(report)) == 1
    # Backoff alone would be ~0.01 s: the wait came from retry-after.
    assert sleep.waits == [1.0]
    assert time.monotonic() - started >= 1.0


@pytest.mark.django_db
def test_a_spent_primary_budget_waits_until_the_reset(github_settings, tester):
    github_settings.faults(primary_exhausted={"reset_in": 1})
    report = submit(tester)
    sleep = RecordingSleep()

    report = services.feedback_sync_run(report.pk, sleep=sleep)

    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    # No retry-after on a primary limit: x-ratelimit-reset (+1 s) decides.
    assert len(sleep.waits) == 1 and 0.5 <= sleep.waits[0] <= 3.5


@pytest.mark.django_db
def test_github_down_longer_than_all_retries_leaves_the_report_failed_and_intact(
    github_settings, tester, operator
):
    # The first attempt creates the issue but gets a 500; then GitHub is gone.
    github_settings.faults(fail_after_create=1)
    report = submit(
        tester,
        uploads=[SimpleUploadedFile("screen.png", PNG, content_type="image/png")],
    )

    def go_down(sleeps: int) -> None:
        if sleeps == 1:
            github_settings.faults(outage=True)

    report = services.feedback_sync_run(report.pk, sleep=RecordingSleep(go_down))

    assert report.sync_state == FeedbackReport.SyncState.FAILED
    assert report.sync_attempts == 4
    assert "gave up: 4 attempts" in report.sync_last_error
    assert report.github_issue_number is None
    # Intact: the report and its attachment are as submitted.
    assert report.title == "Payout never arrives"
    assert report.description == "I sent 1 BAN and the balance did not change."
    assert report.attachments.count() == 1
    assert report.attachments.get().file.read() == PNG

    github_settings.clear_faults()
    services.feedback_sync_retry(report=report, actor=operator)
    report.refresh_from_db()
    assert report.sync_state == FeedbackReport.SyncState.PENDING
    report = services.feedback_sync_run(report.pk)

    issues = github_settings.issues_with_marker(report)
    assert len(issues) == 1
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert report.github_issue_number == issues[0]["number"]


@pytest.mark.django_db
def test_after_a_clean_outage_the_admin_retry_files_exactly_one_issue(
    github_settings, tester, operator
):
    github_settings.faults(forced_status=503)
    report = services.feedback_sync_run(submit(tester).pk, sleep=RecordingSleep())
    assert report.sync_state == FeedbackReport.SyncState.FAILED
    assert "503" in report.sync_last_error
    github_settings.clear_faults()
    assert github_settings.issues_with_marker(report) == []

    services.feedback_sync_retry(report=report, actor=operator)
    report = services.feedback_sync_run(report.pk)
    assert report.sync_state == FeedbackReport.SyncState.SYNCED
    assert len(github_settings.issues_with_marker(report)) == 1
    # A second retry is refused: the report is synced.
    with pytest.raises(services.SyncNotPossible):
        services.feedback_sync_retry(report=report, actor=operator)


@pytest.mark.django_db
def test_a_late_retry_finds_the_issue_beyond_the_scan_limit_through_search(
    github_settings, tester, operator
):
    github_settings.faults(fail_after_create=1)
    report = submit(tester)

    def go_down(sleeps: int) -> None:
        if sleeps == 1:
            github_settings.faults(forced_status=503)

    report = services.feedback_sync_run(report.pk, sleep=RecordingSleep(go_down))
    assert report.sync_state == FeedbackReport.SyncState.FAILED
    github_settings.clear_faults()
    # Days later: the bot has filed newer issues since, and the retry's
    # listing only looks at the newest one.
    for title in ("later one", "later two"):
        services.feedback_sync_run(submit(tester, title=title).pk)
    FeedbackReport.objects.filter(pk=report.pk).update(
        reported_at=report.reported_at - timedelta(minutes=30)
    )

    with override_settings(FEEDBACK_MARKER_SCAN_LIMIT=1):
        services.feedback_sync_retry(report=report, actor=operator)
        report = services.feedback_sync_run(report.pk)

    issues = github_settings.issues_with_marker(report)
    assert [i["number"] for i in issues] == [report.github_issue_number]
    seen = [r["path"].split("?")[0] for r in github_settings.requests_seen()]
    assert "/github/search/issues" in seen


@pytest.mark.django_db
def test_bad_credentials_fail_at_once_without_retrying(github_settings, tester):
    sleep = RecordingSleep()
    with override_settings(GITHUB_TOKEN="ghp_wrong"):
        report = services.feedback_sync_run(submit(tester).pk, sleep=sleep)
    assert report.sync_state == FeedbackReport.SyncState.FAILED
    assert sleep.waits == []
    assert report.sync_attempts == 1
    assert "401" in report.sync_last_error
    assert "permanent" in report.sync_last_error


@pytest.mark.django_db
def test_without_github_settings_the_report_is_disabled_and_nothing_breaks(
    no_github, tester, github_sim
):
    report = submit(tester)
    assert report.sync_state == FeedbackReport.SyncState.DISABLED
    report = services.feedback_sync_run(report.pk)
    assert report.sync_state == FeedbackReport.SyncState.DISABLED
    assert github_sim.requests_seen() == []
    with pytest.raises(services.SyncNotPossible):
        services.feedback_sync_retry(report=report, actor=tester)


@pytest.mark.django_db
def test_an_attempt_while_another_runs_on_the_same_report_does_nothing(
    github_settings, tester, redis_client
):
    report = submit(tester)
    lock = redis_client.lock(services.LOCK_KEY.format(report.pk), timeout=30)
    assert lock.acquire(blocking=False)
    try:
        outcome = services.feedback_sync_attempt(report.pk)
    finally:
        lock.release()
    assert outcome.busy
    report.refresh_from_db()
    assert report.sync_attempts == 0
    assert github_settings.issues_with_marker(report) == []


@pytest.mark.django_db
def test_an_unknown_report_id_is_a_no_op(github_settings):
    assert services.feedback_sync_attempt(uuid.uuid4()).state == "MISSING"


def test_retry_delays_back_off_and_honour_retry_after():
    from integrations.kinds.github.client import GitHubError

    with override_settings(
        FEEDBACK_SYNC_BACKOFF_SECONDS=2,
        FEEDBACK_SYNC_BACKOFF_MAX_SECONDS=60,
        FEEDBACK_SYNC_SECONDARY_WAIT_SECONDS=60,
        FEEDBACK_SYNC_MAX_WAIT_SECONDS=900,
    ):
        plain = GitHubError("503", status=503, transient=True)
        assert 1 <= services.retry_delay(plain, 1) <= 2
        assert 8 <= services.retry_delay(plain, 4) <= 16
        assert 30 <= services.retry_delay(plain, 10) <= 60
        told = GitHubError("429", status=429, transient=True, retry_after=7)
        assert services.retry_delay(told, 1) == 7
        secondary = GitHubError("403", transient=True, secondary_rate_limit=True)
        assert services.retry_delay(secondary, 1) == 60
        far = GitHubError("403", transient=True, retry_after=10_000)
        assert services.retry_delay(far, 1) == 900
