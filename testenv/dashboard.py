"""The live dashboard page and the snapshot its socket sends on connect."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

HISTORY_POINTS = 40
RECENT = 20


def _endpoints() -> list[dict[str, Any]]:
    from integrations.models import IntegrationEndpoint, IntegrationHealthStatus

    latest = IntegrationHealthStatus.objects.filter(endpoint=OuterRef("pk")).order_by(
        "-checked_at", "-id"
    )
    endpoints = IntegrationEndpoint.objects.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        latest_ms=Subquery(latest.values("response_time_ms")[:1]),
        latest_code=Subquery(latest.values("status_code")[:1]),
        latest_at=Subquery(latest.values("checked_at")[:1]),
        latest_error=Subquery(latest.values("error_message")[:1]),
    ).order_by("name")
    rows = []
    for endpoint in endpoints:
        history = list(
            IntegrationHealthStatus.objects.filter(endpoint=endpoint)
            .order_by("-checked_at", "-id")
            .values("checked_at", "response_time_ms", "status")[:HISTORY_POINTS]
        )
        rows.append(
            {
                "id": endpoint.pk,
                "name": endpoint.name,
                "kind": endpoint.kind,
                "mode": endpoint.mode,
                "enabled": endpoint.enabled,
                "status": endpoint.latest_status,
                "response_time_ms": endpoint.latest_ms,
                "status_code": endpoint.latest_code,
                "checked_at": endpoint.latest_at,
                "error_message": endpoint.latest_error or "",
                "check_interval_seconds": endpoint.check_interval_seconds,
                "history": [
                    {
                        "checked_at": point["checked_at"],
                        "response_time_ms": point["response_time_ms"],
                        "status": point["status"],
                    }
                    for point in reversed(history)
                ],
            }
        )
    return rows


def _result_row(result) -> dict[str, Any]:
    failed = [a for a in (result.assertions or []) if not a.get("passed")]
    return {
        "id": str(result.pk),
        "session_id": str(result.session_id),
        "endpoint_id": result.endpoint_id,
        "endpoint_name": result.endpoint.name,
        "test_name": result.test_name,
        "status": result.status,
        "mode": result.mode,
        "duration_ms": result.duration_ms,
        "completed_at": result.completed_at,
        "error_details": result.error_details,
        "assertions": result.assertions,
        "failed_assertions": len(failed),
    }


def _session(user) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    from sessions.models import TestResult, TestSession

    running = TestSession.objects.filter(status__in=["ACTIVE", "PAUSED"]).order_by(
        "-started_at"
    )
    session = running.filter(tester=user).first() or running.first()
    if session is None:
        return None, []
    results = (
        TestResult.objects.filter(session=session)
        .select_related("endpoint")
        .order_by("-completed_at", "-started_at")[:RECENT]
    )
    return (
        {
            "id": str(session.pk),
            "name": session.name,
            "status": session.status,
            "started_at": session.started_at,
            "tester_id": session.tester_id,
            "tester": session.tester.get_username(),
            "pause_reason": session.pause_reason,
            "own": session.tester_id == user.pk,
        },
        [_result_row(result) for result in results],
    )


def _alerts() -> list[dict[str, Any]]:
    from integrations.models import Alert

    return [
        {
            "id": alert.pk,
            "endpoint_id": alert.endpoint_id,
            "endpoint_name": alert.endpoint.name,
            "kind": alert.kind,
            "state": alert.state,
            "message": alert.message,
            "opened_at": alert.opened_at,
        }
        for alert in Alert.objects.filter(state="OPEN").select_related("endpoint")[:50]
    ]


def _feedback() -> list[dict[str, Any]]:
    from feedback.models import FeedbackReport

    return [
        {
            "id": str(report.pk),
            "title": report.title,
            "category": report.category,
            "priority": report.priority,
            "status": report.status,
            "sync_state": report.sync_state,
            "github_issue_number": report.github_issue_number,
            "github_issue_url": report.github_issue_url,
            "reported_at": report.reported_at,
        }
        for report in FeedbackReport.objects.order_by("-reported_at")[:RECENT]
    ]


def _workflows() -> list[dict[str, Any]]:
    from integrations.kinds.base import workflow_class, workflow_names

    return [
        {
            "name": name,
            "kinds": list(workflow_class(name).kinds),
            "description": workflow_class(name).description,
        }
        for name in workflow_names()
    ]


def build_snapshot(user) -> dict[str, Any]:
    """Everything the dashboard shows, as of now."""
    from testenv.realtime import snapshot_parts

    parts = snapshot_parts()
    session, results = _session(user)
    snapshot = {
        "endpoints": _endpoints(),
        "active_session": session,
        "recent_results": results,
        "open_alerts": _alerts(),
        "workflows": _workflows(),
    }
    if "recent_feedback" not in parts:
        snapshot["recent_feedback"] = _feedback()
    snapshot.update({name: build() for name, build in parts.items()})
    return snapshot


@login_required
@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "testing/dashboard.html", {"user": request.user})
