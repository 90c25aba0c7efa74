"""The issue body is actionable on its own and carries the marker."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from feedback import github as gh
from feedback import services
from feedback.models import FeedbackReport


@pytest.fixture
def report(github_settings, tester, failing_session) -> FeedbackReport:
    return services.feedback_submit(
        reporter=tester,
        title="Payment fails on the simulated node",
        description="Clicked *pay*; nothing happened.",
        category=FeedbackReport.Category.INTEGRATION,
        priority=FeedbackReport.Priority.CRITICAL,
        metadata={"browser": "Firefox 130", "trace_id": "aaaabbbbccccdddd"},
        uploads=[
            SimpleUploadedFile(
                "../../logs/[run] 1.log", b"line one\nline two\n", "text/plain"
            )
        ],
    )


@pytest.mark.django_db
def test_the_body_names_the_session_its_failures_and_the_environment(report):
    body = gh.render_issue_body(report)

    assert "Clicked *pay*; nothing happened." in body
    assert "| Priority | CRITICAL |" in body
    assert "payout run" in body  # the reporter's ACTIVE session, used by default
    # Failing results with their failed assertions; the passing one is left out.
    assert "banano_payment — FAILED on banano-sim (SIMULATED)" in body
    assert "| block hash returned | `64 hex` | `null` |" in body
    assert "balance read" not in body
    assert "yunite_user_lookup — ERROR on yunite-live (LIVE)" in body
    assert "ConnectionError: refused" in body
    assert "passing_check" not in body
    # Integration health at the time, with LIVE / SIMULATED per integration.
    assert "| banano-sim | banano | **SIMULATED** | DEGRADED | 950 ms | 200 |" in body
    assert "| yunite-live | yunite | **LIVE** | UNHEALTHY |" in body
    # Trace ids of the results and the reporter's metadata.
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in body
    assert "00f067aa0ba902b7a3ce929d0e0e4736" in body
    assert "aaaabbbbccccdddd" in body
    assert "Firefox 130" in body


@pytest.mark.django_db
def test_the_body_redacts_secrets_from_excerpts_and_configuration(report):
    body = gh.render_issue_body(report)
    assert "Insufficient balance" in body  # the response excerpt is there
    assert "wallet-password-should-not-leak" not in body
    assert "cfg-secret-value-123" not in body
    assert "[REDACTED]" in body


@pytest.mark.django_db
def test_the_body_links_each_attachment_through_testenv(report):
    attachment = report.attachments.get()
    body = gh.render_issue_body(report)
    url = (
        f"https://testenv.example.org/testing/feedback/{report.pk}"
        f"/attachments/{attachment.pk}"
    )
    assert f"[\\[run\\] 1.log]({url})" in body


@pytest.mark.django_db
def test_the_body_ends_with_the_marker_and_data_cannot_plant_another(
    github_settings, tester
):
    other = "<!-- testenv-feedback:11111111-2222-3333-4444-555555555555 -->"
    report = services.feedback_submit(
        reporter=tester,
        title="Spoof",
        description=f"Look: {other}",
        category=FeedbackReport.Category.OTHER,
    )
    body = gh.render_issue_body(report)
    assert body.rstrip().endswith(gh.marker_for(report))
    assert other not in body
    assert body.count("<!--") == 1


@pytest.mark.django_db
def test_an_oversized_body_is_cut_below_githubs_limit_and_keeps_the_marker(
    github_settings, tester, failing_session
):
    failing_session.test_results.update(response_data={"blob": "x" * 200_000})
    report = services.feedback_submit(
        reporter=tester,
        title="Huge",
        description="y" * 70_000,
        category=FeedbackReport.Category.OTHER,
    )
    body = gh.render_issue_body(report)
    assert len(body) < 65_536
    assert body.rstrip().endswith(gh.marker_for(report))


@pytest.mark.django_db
def test_a_report_without_session_says_so(github_settings, product_owner):
    report = services.feedback_submit(
        reporter=product_owner,
        title="Docs unclear",
        description="The payout page needs an example.",
        category=FeedbackReport.Category.UX,
    )
    body = gh.render_issue_body(report)
    assert "Not attached to a test session." in body
    assert "None (no session)." in body


@pytest.mark.django_db
def test_the_new_issue_link_is_prefilled_and_short(github_settings, report):
    url = gh.new_issue_url(report)
    assert url.startswith(f"{github_settings.api_url}/pay2slay/pay2slay2/issues/new?")
    assert "title=Payment+fails+on+the+simulated+node" in url
    assert "labels=category%3Aintegration%2Cpriority%3Acritical" in url
    assert len(url) < 8000


def test_the_web_address_of_github_and_enterprise_apis():
    from integrations.kinds.github.client import html_base_url

    assert html_base_url("https://api.github.com") == "https://github.com"
    assert html_base_url("https://ghe.example.org/api/v3/") == "https://ghe.example.org"
