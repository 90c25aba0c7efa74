"""Reads of feedback reports, their attachments, and what an issue body shows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404

from feedback.models import FeedbackAttachment, FeedbackReport
from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from sessions.models import TestResult, TestSession

FAILING_STATUSES = (TestResult.Status.FAILED, TestResult.Status.ERROR)
# An issue body lists at most this many integrations (the benchmark registers
# hundreds of generic http endpoints; the five integrations come first).
HEALTH_ROWS_LIMIT = 25


def feedback_list(
    *,
    status: str | None = None,
    priority: str | None = None,
    session_id: Any = None,
    category: str | None = None,
    sync_state: str | None = None,
) -> QuerySet[FeedbackReport]:
    """Reports, newest first, with their attachments prefetched.

    ``status`` + ``priority`` use the (status, priority) index.
    """
    reports = FeedbackReport.objects.select_related("reported_by").prefetch_related(
        Prefetch(
            "attachments", queryset=FeedbackAttachment.objects.order_by("uploaded_at")
        )
    )
    if status:
        reports = reports.filter(status=status)
    if priority:
        reports = reports.filter(priority=priority)
    if category:
        reports = reports.filter(category=category)
    if sync_state:
        reports = reports.filter(sync_state=sync_state)
    if session_id:
        reports = reports.filter(session_id=session_id)
    return reports.order_by("-reported_at", "-id")


def feedback_get(report_id: Any) -> FeedbackReport:
    """The report or ``Http404`` (also for a malformed id)."""
    try:
        return feedback_list().get(pk=report_id)
    except (FeedbackReport.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise Http404(f"No feedback report {report_id}.") from exc


def attachment_get(report: FeedbackReport, attachment_id: Any) -> FeedbackAttachment:
    try:
        return report.attachments.get(pk=attachment_id)
    except (
        FeedbackAttachment.DoesNotExist,
        ValidationError,
        ValueError,
        TypeError,
    ) as exc:
        raise Http404(f"No attachment {attachment_id} on this report.") from exc


def report_by_issue_number(number: int) -> FeedbackReport | None:
    """Uses the github_issue_number index (webhook deliveries, reconcile)."""
    return FeedbackReport.objects.filter(github_issue_number=number).first()


def reports_pending_sync(*, reported_before: datetime) -> QuerySet[FeedbackReport]:
    return FeedbackReport.objects.filter(
        sync_state=FeedbackReport.SyncState.PENDING,
        reported_at__lt=reported_before,
        github_issue_number__isnull=True,
    ).order_by("reported_at")


def recent_feedback(limit: int = 20) -> QuerySet[FeedbackReport]:
    """The dashboard snapshot's "recent feedback"."""
    return feedback_list()[:limit]


def session_failing_results(
    session: TestSession, *, limit: int
) -> QuerySet[TestResult]:
    """A session's FAILED and ERROR results, newest first."""
    return (
        session.test_results.filter(status__in=FAILING_STATUSES)
        .select_related("endpoint")
        .order_by("-completed_at", "-started_at")[:limit]
    )


def session_failing_count(session: TestSession) -> int:
    return session.test_results.filter(status__in=FAILING_STATUSES).count()


def health_at(
    moment: datetime, *, prefer_endpoint_ids: Iterable[int] = ()
) -> tuple[list[dict[str, Any]], int]:
    """Each integration with its latest health check at or before ``moment``.

    Returns at most ``HEALTH_ROWS_LIMIT`` rows and how many were left out:
    the endpoints the failing results used come first, then the named kinds
    (everything but generic http), then unhealthy ones, then by name.
    """
    latest = IntegrationHealthStatus.objects.filter(
        endpoint=OuterRef("pk"), checked_at__lte=moment
    ).order_by("-checked_at", "-id")
    endpoints = IntegrationEndpoint.objects.annotate(
        at_status=Subquery(latest.values("status")[:1]),
        at_response_time_ms=Subquery(latest.values("response_time_ms")[:1]),
        at_status_code=Subquery(latest.values("status_code")[:1]),
        at_checked_at=Subquery(latest.values("checked_at")[:1]),
        at_error=Subquery(latest.values("error_message")[:1]),
    ).order_by("name")
    preferred = set(prefer_endpoint_ids)
    healthy = {IntegrationHealthStatus.Status.HEALTHY}

    def rank(endpoint: IntegrationEndpoint) -> tuple[int, int, int, str]:
        return (
            0 if endpoint.pk in preferred else 1,
            1 if endpoint.kind == "http" else 0,
            0 if endpoint.at_status not in healthy else 1,
            endpoint.name,
        )

    ordered = sorted(endpoints, key=rank)
    rows = [
        {
            "name": endpoint.name,
            "kind": endpoint.kind,
            "mode": endpoint.mode,
            "enabled": endpoint.enabled,
            "status": endpoint.at_status or "",
            "response_time_ms": endpoint.at_response_time_ms,
            "status_code": endpoint.at_status_code,
            "checked_at": endpoint.at_checked_at,
            "error": endpoint.at_error or "",
        }
        for endpoint in ordered[:HEALTH_ROWS_LIMIT]
    ]
    return rows, max(0, len(ordered) - HEALTH_ROWS_LIMIT)
