"""Reads of integration endpoints and their health."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus


def endpoint_list_with_latest() -> QuerySet[IntegrationEndpoint]:
    """Endpoints by name, each annotated with its latest check:
    ``latest_status``, ``latest_response_time_ms``, ``latest_checked_at``.

    One correlated subquery per column, each a single-row seek on the
    (endpoint, -checked_at) index, so the list stays fast with a million
    health rows stored.
    """
    latest = IntegrationHealthStatus.objects.filter(endpoint=OuterRef("pk")).order_by(
        "-checked_at", "-id"
    )
    return IntegrationEndpoint.objects.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        latest_response_time_ms=Subquery(latest.values("response_time_ms")[:1]),
        latest_checked_at=Subquery(latest.values("checked_at")[:1]),
    ).order_by("name")


def endpoint_get(endpoint_id: Any) -> IntegrationEndpoint:
    """The endpoint (annotated like the list) or ``Http404``."""
    try:
        return endpoint_list_with_latest().get(pk=int(endpoint_id))
    except (IntegrationEndpoint.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No integration endpoint {endpoint_id}.") from exc


def endpoint_latest_health(endpoint: IntegrationEndpoint) -> IntegrationHealthStatus:
    """The newest health check of ``endpoint`` or ``Http404`` before the first."""
    latest = (
        IntegrationHealthStatus.objects.filter(endpoint=endpoint)
        .order_by("-checked_at", "-id")
        .first()
    )
    if latest is None:
        raise Http404(f"Endpoint {endpoint.pk} has not been checked yet.")
    return latest
