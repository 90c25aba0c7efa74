"""Tunables of health monitoring, read from Django settings with defaults.

Each name can be set in settings (or overridden in tests with the ``settings``
fixture); docs/monitoring.md explains what each one changes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Celery queue of check_endpoint and dispatch_due_checks (None: the default
    # queue). A dedicated queue lets a thread-pool worker serve checks alone.
    "MONITOR_QUEUE": None,
    # Queue of notify_alert (None: the default queue); never the checks' queue
    # in production, so that a slow mail server cannot hold check slots.
    "MONITOR_NOTIFY_QUEUE": None,
    # The dispatcher claims checks due within this many seconds and sends them
    # with an ETA; must exceed the dispatcher's own period (5 s).
    "MONITOR_DISPATCH_LOOKAHEAD_SECONDS": 6.0,
    "MONITOR_DISPATCH_BATCH": 500,
    # New or long-overdue endpoints (after a restart) are spread over their
    # interval less this margin, which covers the delay before the first
    # dispatch (beat's start-up and its 5 s period).
    "MONITOR_RESTART_MARGIN_SECONDS": 8.0,
    # Latency alerting: rolling window of answered checks (LATENCY is judged
    # only on a full window: below 20 samples the p95 is the maximum, and one
    # spike would count), samples before a baseline is first learned, the
    # factor ("exceeds baseline by 200 %" = 3x), an absolute floor so that
    # 2 ms -> 7 ms on a LAN is not an alert, and how fast the baseline follows
    # the window median (EWMA weight).
    "MONITOR_LATENCY_WINDOW": 20,
    "MONITOR_LATENCY_MIN_SAMPLES": 10,
    "MONITOR_LATENCY_FACTOR": 3.0,
    "MONITOR_LATENCY_MIN_DELTA_MS": 20.0,
    "MONITOR_BASELINE_ALPHA": 0.05,
    # Flapping: this many ok<->failing changes within the last
    # MONITOR_FLAP_WINDOW checks mark an endpoint as flapping; a flapping alert
    # resolves only after MONITOR_FLAP_STABLE_CHECKS good checks in a row, and
    # an alert that would open again within MONITOR_REOPEN_SECONDS of its
    # resolution is re-opened instead of a new one.
    "MONITOR_FLAP_WINDOW": 20,
    "MONITOR_FLAP_CHANGES": 4,
    "MONITOR_FLAP_STABLE_CHECKS": 10,
    "MONITOR_REOPEN_SECONDS": 900,
    # The cached set of open alerts is re-read from the database this often,
    # so alerts resolved by hand in the admin are noticed.
    "MONITOR_OPEN_ALERTS_REFRESH_SECONDS": 60,
    "MONITOR_STATE_TTL_SECONDS": 7 * 24 * 3600,
    # Retention: newest raw rows kept per endpoint; older ones become hourly
    # aggregates.
    "HEALTH_RAW_KEEP": 1000,
    "HEALTH_RETENTION_CHUNK": 20000,
    # The rollback trigger: consecutive failing checks during an ACTIVE session.
    "ROLLBACK_FAILURE_THRESHOLD": 3,
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
