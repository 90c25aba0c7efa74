"""Signals that integrations sends to the apps above it (imports flow one way).

``endpoint_failing_streak(sender, endpoint, session_id, streak, status)``
    Sent by ``integrations.services.endpoint_check`` after a failing check
    (UNHEALTHY or TIMEOUT) made while a test session was ACTIVE, once the
    health row is committed. ``streak`` counts the consecutive failing checks
    of ``endpoint`` made while a session was ACTIVE (1 on the first one);
    ``session_id`` is the ACTIVE session the row is linked to and ``status``
    the stored status. The sessions app connects its rollback trigger here
    (``sessions.receivers``). Receivers run in the checking process and should
    return quickly; exceptions are logged, never raised into the check.
"""

from __future__ import annotations

from django.dispatch import Signal

endpoint_failing_streak = Signal()
