"""The rollback trigger: pause ACTIVE sessions while an integration keeps failing.

Connected in ``TestSessionsConfig.ready()`` to
``integrations.signals.endpoint_failing_streak``. When an endpoint has failed
(UNHEALTHY or TIMEOUT) ``ROLLBACK_FAILURE_THRESHOLD`` checks in a row (3)
while a session was ACTIVE, every ACTIVE session is paused with the reason
written on it, dashboards get ``session_updated``, and a SESSION_PAUSED alert
opens (and is notified). Resuming is a human decision: the alert stays open
until the endpoint recovers, and while it is open the trigger does not fire
again, so a tester who resumes during the same outage is not overruled.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from integrations import monitor_settings as conf
from integrations.alerts import SESSION_PAUSED, open_alert
from integrations.models import Alert, IntegrationEndpoint
from sessions.models import TestSession
from testenv.errors import ConflictError

logger = logging.getLogger(__name__)


def pause_sessions_on_failing_streak(
    sender: Any,
    *,
    endpoint: IntegrationEndpoint,
    session_id: Any,
    streak: int,
    status: str,
    **kwargs: Any,
) -> list[str]:
    """Pause the ACTIVE sessions once the streak reaches the threshold.

    Returns the ids of the sessions paused (empty when nothing happened).
    """
    from sessions.services import session_update

    threshold = conf.get("ROLLBACK_FAILURE_THRESHOLD")
    if session_id is None or streak < threshold:
        return []
    if Alert.objects.filter(
        endpoint=endpoint, kind=SESSION_PAUSED, state=Alert.State.OPEN
    ).exists():
        return []
    reason = (
        f"Rollback trigger: {endpoint.name} was {status} for {streak} consecutive "
        f"health checks during the session."
    )
    paused: list[str] = []
    with transaction.atomic():
        alert = open_alert(
            endpoint,
            SESSION_PAUSED,
            message=reason,
            details={"streak": streak, "status": status, "threshold": threshold},
            session_id=session_id,
        )
        if alert is None:
            return []  # another process fired the trigger for this outage
        for session in TestSession.objects.filter(status=TestSession.Status.ACTIVE):
            try:
                session_update(
                    session=session,
                    actor=None,
                    status=TestSession.Status.PAUSED,
                    reason=reason,
                    source="rollback-trigger",
                )
            except ConflictError:
                continue  # paused or finished meanwhile
            paused.append(str(session.pk))
        alert.details = {**alert.details, "paused_sessions": paused}
        alert.save(update_fields=["details"])
    logger.warning("%s; paused sessions %s", reason, ", ".join(paused) or "none")
    return paused
