"""Celery tasks of the feedback app.

``feedback.sync_github`` makes one attempt and, when the policy asks for
another, queues the next one with a countdown (the attempt number travels in
the message), so a GitHub outage never holds a worker in a sleep.
``feedback.reconcile_github`` is periodic; its beat schedule is created by
the ``sync_schedules`` management command.
"""

from __future__ import annotations

import logging

from celery import shared_task

from feedback import services

logger = logging.getLogger(__name__)

# Bounded by the lock of one attempt (see services._lock_timeout).
SYNC_SOFT_TIME_LIMIT = 150
SYNC_TIME_LIMIT = 180


def _retry_later(task, enqueue, report_id: str, attempt: int, outcome) -> None:
    """Queue the next attempt when the outcome asks for one, on the queue this
    attempt came from (retries are new messages with a countdown, so no worker
    thread sleeps through an outage)."""
    if outcome.retry_in is None:
        return
    delivery = getattr(task.request, "delivery_info", None) or {}
    enqueue(
        report_id,
        attempt=attempt + 1,
        countdown=outcome.retry_in,
        queue=str(delivery.get("routing_key") or ""),
    )


@shared_task(
    bind=True,
    name=services.SYNC_TASK,
    ignore_result=True,
    acks_late=True,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT,
    time_limit=SYNC_TIME_LIMIT,
)
def sync_github(self, report_id: str, attempt: int = 1) -> str:
    """Attempt ``attempt`` to create the GitHub issue of a feedback report."""
    outcome = services.feedback_sync_attempt(report_id, attempt=attempt)
    _retry_later(self, services.feedback_sync_enqueue, report_id, attempt, outcome)
    return outcome.state


@shared_task(
    bind=True,
    name=services.ISSUE_UPDATE_TASK,
    ignore_result=True,
    acks_late=True,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT,
    time_limit=SYNC_TIME_LIMIT,
)
def update_issue_attachments(self, report_id: str, attempt: int = 1) -> str:
    """List an attachment added after the issue was created in its body."""
    outcome = services.feedback_issue_update_attempt(report_id, attempt=attempt)
    _retry_later(
        self, services.feedback_issue_update_enqueue, report_id, attempt, outcome
    )
    return outcome.state


@shared_task(
    name=services.RECONCILE_TASK,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def reconcile_github() -> dict[str, int]:
    """Queue lost syncs again and apply issue states that webhooks missed."""
    return services.feedback_reconcile()
