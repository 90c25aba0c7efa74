"""Feedback settings with their defaults, read at call time.

``conf(name)`` reads, in order: the Django setting (``testenv/settings.py``,
or a test's ``override_settings``), the environment variable of the same name
(converted to the default's type), the default below.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Attempts to create the issue before the report is FAILED (per round: the
    # admin's "retry sync" starts a new round).
    "FEEDBACK_SYNC_MAX_ATTEMPTS": 5,
    # Exponential backoff between attempts: base * 2^(attempt-1), capped, with
    # jitter (half to full). Retry-After and x-ratelimit-reset override it.
    "FEEDBACK_SYNC_BACKOFF_SECONDS": 5.0,
    "FEEDBACK_SYNC_BACKOFF_MAX_SECONDS": 600.0,
    # The longest wait honoured for a Retry-After / reset (longer ones are cut:
    # the next attempt then counts against the budget like any other).
    "FEEDBACK_SYNC_MAX_WAIT_SECONDS": 1800.0,
    # A secondary rate limit without Retry-After: wait at least this long.
    "FEEDBACK_SYNC_SECONDARY_WAIT_SECONDS": 60.0,
    # PyGithub: per-call timeout, and its own pauses between calls (GitHub asks
    # integrations to space out content-creating requests).
    "FEEDBACK_GITHUB_TIMEOUT_SECONDS": 15,
    "FEEDBACK_GITHUB_SECONDS_BETWEEN_REQUESTS": 0.25,
    "FEEDBACK_GITHUB_SECONDS_BETWEEN_WRITES": 1.0,
    # The marker lookup lists issues updated since reported_at minus this.
    "FEEDBACK_MARKER_LOOKBACK_SECONDS": 3600,
    "FEEDBACK_MARKER_SCAN_LIMIT": 300,
    # Reports older than this are also looked for through the search API,
    # whose index lags behind creation (only when the listing found nothing).
    "FEEDBACK_MARKER_SEARCH_AFTER_SECONDS": 600,
    # Reconcile: a PENDING report older than this with no attempt scheduled is
    # queued again (a task lost with its broker message).
    "FEEDBACK_RECONCILE_PENDING_AFTER_SECONDS": 300,
    # Reconcile: how far back to list issues on the first run (afterwards it
    # continues from where the last run ended).
    "FEEDBACK_RECONCILE_LOOKBACK_SECONDS": 30 * 24 * 3600,
    # Base of the links in issues (attachments, the report); empty: the
    # scheme://host the report was submitted through.
    "FEEDBACK_PUBLIC_BASE_URL": "",
    # Issue body: how many failing results, and how long each excerpt.
    "FEEDBACK_ISSUE_MAX_FAILED_RESULTS": 10,
    "FEEDBACK_ISSUE_EXCERPT_CHARS": 1500,
    "FEEDBACK_ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "FEEDBACK_MAX_ATTACHMENTS_PER_REPORT": 20,
    # The Celery queue of the sync task ("": Celery's default queue). Retries
    # stay on the queue their first attempt came from.
    "FEEDBACK_SYNC_QUEUE": "",
}


def conf(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    default = DEFAULTS[name]
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return type(default)(raw.strip())


def github_configured() -> bool:
    """True when a token and a repository are set (else the sync is DISABLED)."""
    return bool(settings.GITHUB_TOKEN and settings.GITHUB_REPO)
