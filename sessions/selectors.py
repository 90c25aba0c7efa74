"""Reads of test sessions and their results."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404

from sessions.models import TestResult, TestSession

DETAIL_LIMIT = 100
PAYMENT_WORKFLOW = "banano_payment"


def session_list(
    *, status: str | None = None, tester_id: int | None = None
) -> QuerySet[TestSession]:
    """Sessions, newest first, optionally by status and tester."""
    sessions = TestSession.objects.all().order_by("-started_at", "-created_at")
    if status:
        sessions = sessions.filter(status=status)
    if tester_id is not None:
        sessions = sessions.filter(tester_id=tester_id)
    return sessions


def session_get(session_id: Any) -> TestSession:
    """The session or ``Http404`` (also for a malformed id)."""
    try:
        return TestSession.objects.get(pk=session_id)
    except (TestSession.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        # A malformed UUID raises ValidationError: still "no such session".
        raise Http404(f"No test session {session_id}.") from exc


def session_results(
    session: TestSession, *, endpoint_id: int | None = None
) -> QuerySet[TestResult]:
    """A session's results, newest first."""
    results = session.test_results.select_related("endpoint").order_by(
        "-completed_at", "-started_at", "-id"
    )
    if endpoint_id is not None:
        results = results.filter(endpoint_id=endpoint_id)
    return results


def session_detail_parts(session: TestSession) -> dict[str, Any]:
    """The newest ``DETAIL_LIMIT`` results, feedback reports and health rows of
    a session, with the total count of each."""
    results = session_results(session)
    feedback = session.feedback_reports.order_by("-reported_at")
    health = session.health_statuses.select_related("endpoint").order_by(
        "-checked_at", "-id"
    )
    return {
        "test_results": list(results[:DETAIL_LIMIT]),
        "test_results_count": results.count(),
        "feedback_reports": list(feedback[:DETAIL_LIMIT]),
        "feedback_reports_count": feedback.count(),
        "health_statuses": list(health[:DETAIL_LIMIT]),
        "health_statuses_count": health.count(),
    }


def session_status_counts(session: TestSession) -> dict[str, int]:
    counts = {status: 0 for status in TestResult.Status.values}
    for row in session.test_results.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def _amount_raw(result: TestResult) -> int:
    # ``response_data.notes.amount_raw`` is where banano_payment puts it.
    response = result.response_data if isinstance(result.response_data, dict) else {}
    request = result.request_data if isinstance(result.request_data, dict) else {}
    for source in (response.get("notes"), response, request.get("notes"), request):
        if isinstance(source, dict) and "amount_raw" in source:
            try:
                return int(str(source["amount_raw"]))
            except (TypeError, ValueError):
                return 0
    return 0


def session_spent_raw(session: TestSession) -> int:
    """Raw this session's ``banano_payment`` runs may have paid.

    Every run counts, whatever its status: the workflow's notes give
    ``amount_raw`` as "0" when nothing was sent (refused by the cap or the
    node) and the full amount when it was sent *or the outcome is unknown*
    (a timeout after the send), so a FAILED or ERROR run that moved money
    still counts against ``configuration.max_payment_ban``. Integer raw
    (1 BAN = 10^29 raw), never a float, so rounding cannot cross the cap.
    """
    payments = session.test_results.filter(test_name=PAYMENT_WORKFLOW).only(
        "request_data", "response_data"
    )
    return sum(_amount_raw(result) for result in payments)


def session_active_for(user_id: int) -> TestSession | None:
    return TestSession.objects.filter(
        tester_id=user_id, status=TestSession.Status.ACTIVE
    ).first()
