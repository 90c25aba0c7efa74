"""Feedback: submission, attachments, and the GitHub issue sync.

The promise: a submitted report is stored before anything else happens, and
it becomes exactly one GitHub issue, however GitHub fails.

- ``feedback_submit`` stores the report and its attachments and returns; the
  issue is created by the Celery task ``feedback.sync_github`` queued after
  the commit, so GitHub's latency (or absence) never reaches the request.
- ``feedback_sync_attempt`` is one attempt. It records the attempt *before*
  calling GitHub; every attempt after the first looks for the hidden marker
  ``<!-- testenv-feedback:<uuid> -->`` among the repository's issues before it
  creates one, so a retry after an ambiguous failure (a 500 or a timeout after
  GitHub created the issue, a worker killed mid-call) adopts that issue
  instead of filing a second. A Redis lock keeps two attempts on one report
  from running at once.
- Transient failures (5xx, 429, rate limits, timeouts) are retried with
  exponential backoff and jitter, honouring ``Retry-After`` and, when the
  budget is spent, ``x-ratelimit-reset``. After ``FEEDBACK_SYNC_MAX_ATTEMPTS``
  (or at once for a permanent error such as bad credentials) the report is
  FAILED with the error kept; ``feedback_sync_retry`` (the admin's "retry
  sync") starts a new round.
- ``feedback_apply_issue_state`` maps a closed/reopened issue onto the
  report (webhook deliveries and ``feedback_reconcile``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import LockError

from feedback import github as gh
from feedback import selectors
from feedback.attachments import AttachmentInvalid, CheckedUpload, check_upload
from feedback.conf import conf, github_configured
from feedback.models import FeedbackAttachment, FeedbackReport
from integrations.kinds.github.client import GitHubError, IssueRef
from sessions.models import TestSession
from sessions.selectors import session_active_for
from testenv.audit import audit
from testenv.realtime import broadcast
from testenv.redis import get_redis

logger = logging.getLogger(__name__)

Report = FeedbackReport
Sync = FeedbackReport.SyncState
Status = FeedbackReport.Status

SYNC_TASK = "feedback.sync_github"
RECONCILE_TASK = "feedback.reconcile_github"
ISSUE_UPDATE_TASK = "feedback.update_issue_attachments"
LOCK_KEY = "testenv:feedback:sync-lock:{}"
SCHEDULED_KEY = "testenv:feedback:sync-scheduled:{}"
RECONCILE_CURSOR_KEY = "testenv:feedback:reconcile-since"

_UNSET: Any = object()


# -- events --------------------------------------------------------------------


def feedback_event_data(report: FeedbackReport) -> dict[str, Any]:
    """What dashboards receive in ``feedback_submitted`` / ``feedback_synced``
    and in the snapshot's ``recent_feedback``."""
    return {
        "id": str(report.pk),
        "session_id": str(report.session_id) if report.session_id else None,
        "title": report.title,
        "category": report.category,
        "priority": report.priority,
        "status": report.status,
        "reported_by": report.reported_by.get_username(),
        "reported_at": report.reported_at,
        "resolved_at": report.resolved_at,
        "sync_state": report.sync_state,
        "sync_attempts": report.sync_attempts,
        "sync_last_error": report.sync_last_error,
        "github_issue_number": report.github_issue_number,
        "github_issue_url": report.github_issue_url,
        "attachment_count": report.attachments.count(),
    }


def recent_feedback_snapshot() -> list[dict[str, Any]]:
    return [feedback_event_data(report) for report in selectors.recent_feedback()]


# -- submission and attachments -------------------------------------------------


def _store_attachment(
    report: FeedbackReport, checked: CheckedUpload, saved: list[str]
) -> FeedbackAttachment:
    attachment = FeedbackAttachment(
        feedback=report,
        filename=checked.filename,
        content_type=checked.content_type,
        file_size=checked.size,
        sha256=checked.sha256,
    )
    # upload_to generates the stored name; the uploader's name is data only.
    attachment.file.save(checked.filename, checked.upload, save=False)
    saved.append(attachment.file.name)
    attachment.save()
    return attachment


def _delete_files(names: Iterable[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove orphaned attachment %s", name)


def feedback_submit(
    *,
    reporter: Any,
    title: str,
    description: str,
    category: str,
    priority: str = FeedbackReport.Priority.MEDIUM,
    session: TestSession | None = _UNSET,
    metadata: dict[str, Any] | None = None,
    uploads: Iterable[Any] = (),
    submitted_from: str = "",
    trace_id: str = "",
    source: str = "api",
) -> FeedbackReport:
    """Store a report with its attachments and queue its GitHub issue.

    Every upload is checked before anything is written, so a refused file
    (413, 415) stores nothing. Without ``session`` the reporter's ACTIVE
    session (if any) is used. ``sync_state`` is PENDING, or DISABLED without
    GitHub settings. After the commit: the sync task is queued and dashboards
    get ``feedback_submitted``. Makes no call to GitHub.
    """
    checked = [check_upload(upload) for upload in uploads]
    limit = conf("FEEDBACK_MAX_ATTACHMENTS_PER_REPORT")
    if len(checked) > limit:
        raise AttachmentInvalid({"files": [f"At most {limit} attachments."]})
    if session is _UNSET:
        session = session_active_for(reporter.pk)
    metadata = dict(metadata or {})
    if trace_id:
        metadata["submission_trace_id"] = trace_id
    state = Sync.PENDING if github_configured() else Sync.DISABLED
    saved: list[str] = []
    try:
        with transaction.atomic():
            report = FeedbackReport.objects.create(
                session=session,
                title=title.strip(),
                description=description.strip(),
                category=category,
                priority=priority,
                reported_by=reporter,
                metadata=metadata,
                sync_state=state,
                submitted_from=submitted_from[:300],
            )
            for item in checked:
                _store_attachment(report, item, saved)
            audit(
                reporter,
                "feedback.submitted",
                report,
                {
                    "title": report.title,
                    "category": category,
                    "priority": priority,
                    "attachments": [item.filename for item in checked],
                },
                source=source,
            )
            broadcast("feedback_submitted", feedback_event_data(report))
            if state == Sync.PENDING:
                report_id = report.pk
                transaction.on_commit(lambda: feedback_sync_enqueue(report_id))
    except BaseException:
        _delete_files(saved)
        raise
    return report


def attachment_add(
    *, report: FeedbackReport, upload: Any, actor: Any, source: str = "api"
) -> FeedbackAttachment:
    """Check and store one more attachment of ``report``.

    A report not yet synced shows it in its issue; an issue that already
    exists links to the report, where every attachment is listed.
    """
    checked = check_upload(upload)
    saved: list[str] = []
    try:
        with transaction.atomic():
            locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
            limit = conf("FEEDBACK_MAX_ATTACHMENTS_PER_REPORT")
            if locked.attachments.count() >= limit:
                raise AttachmentInvalid(
                    {"file": [f"This report already has {limit} attachments."]}
                )
            attachment = _store_attachment(locked, checked, saved)
            if locked.github_issue_number:
                # The issue exists: its attachments section is brought up to
                # date (a report still PENDING lists it when it is created).
                report_id = locked.pk
                transaction.on_commit(lambda: feedback_issue_update_enqueue(report_id))
            audit(
                actor,
                "feedback.attachment_added",
                locked,
                {
                    "attachment_id": attachment.pk,
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "file_size": attachment.file_size,
                },
                source=source,
            )
    except BaseException:
        _delete_files(saved)
        raise
    return attachment


def feedback_triage(
    *,
    report: FeedbackReport,
    actor: Any,
    status: str | None = None,
    priority: str | None = None,
    source: str = "api",
) -> FeedbackReport:
    """Change a report's status and/or priority (product owners, operators).

    RESOLVED and CLOSED set ``resolved_at``; OPEN and IN_PROGRESS clear it.
    The GitHub issue is not changed (status flows from GitHub to testenv).
    """
    changes: dict[str, Any] = {}
    with transaction.atomic():
        locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
        if priority and priority != locked.priority:
            changes["priority"] = [locked.priority, priority]
            locked.priority = priority
        if status and status != locked.status:
            changes["status"] = [locked.status, status]
            set_status(locked, status, timezone.now())
        if changes:
            locked.save(update_fields=["status", "priority", "resolved_at"])
            audit(actor, "feedback.triaged", locked, changes, source=source)
            broadcast("feedback_synced", feedback_event_data(locked))
    return locked


def set_status(
    report: FeedbackReport, status: str, when: datetime | None = None
) -> None:
    """Set ``status`` (unsaved) and keep ``resolved_at`` consistent with it:
    set for RESOLVED/CLOSED, cleared otherwise."""
    report.status = status
    if status in (Status.RESOLVED, Status.CLOSED):
        report.resolved_at = report.resolved_at or when or timezone.now()
    else:
        report.resolved_at = None


# -- the GitHub sync ------------------------------------------------------------


@dataclass(frozen=True)
class SyncOutcome:
    """The result of one attempt: the report's ``sync_state`` afterwards, and
    ``retry_in`` seconds when another attempt is due."""

    state: str
    retry_in: float | None = None
    issue_number: int | None = None
    error: str = ""
    busy: bool = False


def _lock_timeout() -> int:
    # Long enough for the slowest attempt (a handful of calls, each bounded
    # by the GitHub timeout), so that the lock never lapses mid-attempt.
    return int(max(120, 12 * float(conf("FEEDBACK_GITHUB_TIMEOUT_SECONDS"))))


def retry_delay(exc: GitHubError, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``.

    ``Retry-After`` (or the primary limit's reset) wins; a secondary rate
    limit without one waits at least ``FEEDBACK_SYNC_SECONDARY_WAIT_SECONDS``;
    otherwise exponential backoff with jitter. Capped at
    ``FEEDBACK_SYNC_MAX_WAIT_SECONDS``.
    """
    base = float(conf("FEEDBACK_SYNC_BACKOFF_SECONDS"))
    ceiling = float(conf("FEEDBACK_SYNC_BACKOFF_MAX_SECONDS"))
    backoff = min(ceiling, base * 2 ** max(0, attempt - 1))
    backoff = random.uniform(backoff / 2, backoff)
    if exc.retry_after is not None:
        delay = float(exc.retry_after)
    elif exc.secondary_rate_limit:
        delay = max(float(conf("FEEDBACK_SYNC_SECONDARY_WAIT_SECONDS")), backoff)
    else:
        delay = backoff
    return max(0.0, min(delay, float(conf("FEEDBACK_SYNC_MAX_WAIT_SECONDS"))))


def feedback_sync_enqueue(
    report_id: Any, *, attempt: int = 1, countdown: float = 0, queue: str = ""
) -> None:
    """Queue attempt ``attempt`` of the sync in ``countdown`` seconds, on
    ``queue`` (else ``FEEDBACK_SYNC_QUEUE``, else Celery's default queue).

    A broker that cannot be reached is logged, not raised: the report stays
    PENDING and ``feedback_reconcile`` queues it again.
    """
    queue = queue or conf("FEEDBACK_SYNC_QUEUE")
    options: dict[str, Any] = {"queue": queue} if queue else {}
    from feedback.tasks import sync_github

    try:
        get_redis().set(
            SCHEDULED_KEY.format(report_id),
            str(time.time() + countdown),
            ex=int(countdown) + _lock_timeout() + 60,
        )
        sync_github.apply_async(
            args=[str(report_id)],
            kwargs={"attempt": attempt},
            countdown=max(0.0, countdown),
            **options,
        )
    except Exception:
        logger.warning(
            "could not queue the GitHub sync of feedback %s; reconcile will",
            report_id,
            exc_info=True,
        )


def feedback_sync_attempt(report_id: Any, *, attempt: int = 1) -> SyncOutcome:
    """Make one attempt to give report ``report_id`` its GitHub issue.

    ``attempt`` counts within the current round (1 = first); at
    ``FEEDBACK_SYNC_MAX_ATTEMPTS`` a transient failure makes the report
    FAILED instead of asking for another attempt. Only PENDING reports are
    synced; others are returned as they are. If another attempt on the same
    report is running, returns ``busy`` without touching it.
    """
    lock = get_redis().lock(LOCK_KEY.format(report_id), timeout=_lock_timeout())
    if not lock.acquire(blocking=False):
        report = FeedbackReport.objects.filter(pk=report_id).first()
        return SyncOutcome(report.sync_state if report else "MISSING", busy=True)
    try:
        return _sync_locked(report_id, attempt)
    finally:
        try:
            lock.release()
        except LockError:  # expired meanwhile: nothing left to release
            logger.warning("sync lock of feedback %s had expired", report_id)


def _sync_locked(report_id: Any, attempt: int) -> SyncOutcome:
    report = (
        FeedbackReport.objects.select_related("session", "reported_by")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        return SyncOutcome("MISSING")
    if report.github_issue_number:
        if report.sync_state != Sync.SYNCED:
            FeedbackReport.objects.filter(pk=report.pk).update(sync_state=Sync.SYNCED)
        return SyncOutcome(Sync.SYNCED, issue_number=report.github_issue_number)
    if report.sync_state != Sync.PENDING:
        return SyncOutcome(report.sync_state, error=report.sync_last_error)
    if not github_configured():
        FeedbackReport.objects.filter(pk=report.pk).update(sync_state=Sync.DISABLED)
        report.sync_state = Sync.DISABLED
        with transaction.atomic():
            broadcast("feedback_synced", feedback_event_data(report))
        return SyncOutcome(Sync.DISABLED)

    # Any earlier attempt may have created the issue without our knowing.
    look_first = report.sync_attempts > 0
    # Count this attempt before the first byte goes to GitHub: if the process
    # dies mid-call, the next attempt knows it must look for the marker.
    FeedbackReport.objects.filter(pk=report.pk).update(
        sync_attempts=F("sync_attempts") + 1
    )
    report.sync_attempts += 1
    marker = gh.marker_for(report)
    try:
        with gh.client_from_settings() as client:
            issue = None
            if look_first:
                issue = client.find_issue_with_marker(
                    marker,
                    since=report.reported_at
                    - timedelta(seconds=conf("FEEDBACK_MARKER_LOOKBACK_SECONDS")),
                    scan_limit=conf("FEEDBACK_MARKER_SCAN_LIMIT"),
                )
                indexed = timezone.now() - report.reported_at > timedelta(
                    seconds=conf("FEEDBACK_MARKER_SEARCH_AFTER_SECONDS")
                )
                if issue is None and indexed:
                    # A late retry (the admin's, days later) may find the
                    # issue beyond the scan limit, under many newer issues;
                    # by then the search index has caught up.
                    issue = client.search_issue_with_marker(marker, str(report.pk))
                if issue is not None:
                    logger.info(
                        "feedback %s: adopted existing issue #%s (marker found)",
                        report.pk,
                        issue.number,
                    )
            if issue is None:
                body = gh.render_issue_body(report)
                labels = gh.labels_for(report)
                try:
                    client.ensure_labels(labels)
                except GitHubError as exc:
                    if exc.transient:
                        raise
                    # A token without push access may not create labels;
                    # GitHub then drops them from the issue silently, and the
                    # issue is what matters.
                    logger.warning(
                        "feedback %s: labels not created: %s", report.pk, exc
                    )
                issue = client.create_issue(gh.issue_title(report), body, list(labels))
    except GitHubError as exc:
        return _record_failure(report, exc, attempt)
    except Exception as exc:
        # A bug of ours or an odd answer: retried like a transient failure
        # so that the report ends FAILED with the error, never stuck PENDING.
        logger.exception("feedback %s: unexpected error during sync", report.pk)
        error = GitHubError(
            f"unexpected error: {exc.__class__.__name__}: {exc}",
            transient=True,
            ambiguous=True,
        )
        return _record_failure(report, error, attempt)
    return _record_success(report, issue)


def _record_success(report: FeedbackReport, issue: IssueRef) -> SyncOutcome:
    try:
        with transaction.atomic():
            locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
            locked.github_issue_number = issue.number
            locked.github_issue_url = issue.html_url
            locked.sync_state = Sync.SYNCED
            locked.sync_last_error = ""
            locked.synced_at = timezone.now()
            locked.save(
                update_fields=[
                    "github_issue_number",
                    "github_issue_url",
                    "sync_state",
                    "sync_last_error",
                    "synced_at",
                ]
            )
            # An adopted issue may already have been closed meanwhile.
            _apply_issue_state(locked, issue)
            broadcast("feedback_synced", feedback_event_data(locked))
    except IntegrityError:
        message = (
            f"GitHub issue #{issue.number} is already linked to another report; "
            "check the issue and link it by hand"
        )
        FeedbackReport.objects.filter(pk=report.pk).update(
            sync_state=Sync.FAILED, sync_last_error=message
        )
        logger.error("feedback %s: %s", report.pk, message)
        return SyncOutcome(Sync.FAILED, error=message)
    get_redis().delete(SCHEDULED_KEY.format(report.pk))
    # An attachment uploaded while the body was being rendered (or after an
    # earlier attempt created the adopted issue) is not in it yet.
    attachment_ids = FeedbackAttachment.objects.filter(feedback=report).values_list(
        "pk", flat=True
    )
    if any(str(pk) not in issue.body for pk in attachment_ids):
        feedback_issue_update_enqueue(report.pk)
    return SyncOutcome(Sync.SYNCED, issue_number=issue.number)


def _record_failure(
    report: FeedbackReport, exc: GitHubError, attempt: int
) -> SyncOutcome:
    max_attempts = int(conf("FEEDBACK_SYNC_MAX_ATTEMPTS"))
    message = str(exc)[:2000]
    if exc.permanent or attempt >= max_attempts:
        why = "permanent error" if exc.permanent else f"{attempt} attempts"
        error = f"{message} (gave up: {why})"
        with transaction.atomic():
            FeedbackReport.objects.filter(pk=report.pk).update(
                sync_state=Sync.FAILED, sync_last_error=error
            )
            report.sync_state, report.sync_last_error = Sync.FAILED, error
            broadcast("feedback_synced", feedback_event_data(report))
        get_redis().delete(SCHEDULED_KEY.format(report.pk))
        logger.warning("feedback %s: GitHub sync FAILED: %s", report.pk, error)
        return SyncOutcome(Sync.FAILED, error=error)
    delay = retry_delay(exc, attempt)
    error = f"attempt {attempt} of {max_attempts}: {message}; next in {delay:.1f} s"
    FeedbackReport.objects.filter(pk=report.pk).update(sync_last_error=error)
    logger.info("feedback %s: %s", report.pk, error)
    return SyncOutcome(Sync.PENDING, retry_in=delay, error=error)


def feedback_sync_run(
    report_id: Any, *, sleep: Callable[[float], None] = time.sleep
) -> FeedbackReport:
    """Run attempts in this process until the report is SYNCED, FAILED or
    DISABLED, sleeping between them as the policy says. The Celery task does
    the same with countdowns instead of sleeps; this is for commands and
    tests."""
    attempt = 1
    while True:
        outcome = feedback_sync_attempt(report_id, attempt=attempt)
        if outcome.retry_in is None:
            break
        sleep(outcome.retry_in)
        attempt += 1
    return FeedbackReport.objects.get(pk=report_id)


def feedback_issue_update_enqueue(
    report_id: Any, *, attempt: int = 1, countdown: float = 0, queue: str = ""
) -> None:
    """Queue ``feedback.update_issue_attachments`` (see
    ``feedback_issue_update_attempt``); a broker error is logged."""
    from feedback.tasks import update_issue_attachments

    queue = queue or conf("FEEDBACK_SYNC_QUEUE")
    options: dict[str, Any] = {"queue": queue} if queue else {}
    try:
        update_issue_attachments.apply_async(
            args=[str(report_id)],
            kwargs={"attempt": attempt},
            countdown=max(0.0, countdown),
            **options,
        )
    except Exception:
        logger.warning(
            "could not queue the issue update of feedback %s", report_id, exc_info=True
        )


def feedback_issue_update_attempt(report_id: Any, *, attempt: int = 1) -> SyncOutcome:
    """Bring the attachments section of a synced report's issue up to date.

    Reads the issue's current body, replaces only that section (edits by
    developers elsewhere survive) and PATCHes it when it changed. A PATCH is
    idempotent, so any failure is simply retried with the sync's policy; after
    the last attempt it is logged (the report itself is unaffected).
    """
    lock = get_redis().lock(
        f"testenv:feedback:issue-update-lock:{report_id}", timeout=_lock_timeout()
    )
    if not lock.acquire(blocking=False):
        # The running update renders the attachments as they are then; one
        # more pass afterwards catches an upload it may have missed.
        more = attempt < int(conf("FEEDBACK_SYNC_MAX_ATTEMPTS"))
        return SyncOutcome(Sync.SYNCED, retry_in=5.0 if more else None, busy=True)
    try:
        report = FeedbackReport.objects.filter(pk=report_id).first()
        if report is None or not report.github_issue_number:
            return SyncOutcome(report.sync_state if report else "MISSING")
        try:
            with gh.client_from_settings() as client:
                issue = client.get_issue(report.github_issue_number)
                body = gh.body_with_attachments(report, issue.body)
                if body != issue.body:
                    client.update_issue_body(report.github_issue_number, body)
        except GitHubError as exc:
            if exc.permanent or attempt >= int(conf("FEEDBACK_SYNC_MAX_ATTEMPTS")):
                logger.warning(
                    "feedback %s: gave up updating the issue's attachments: %s",
                    report_id,
                    exc,
                )
                return SyncOutcome(Sync.SYNCED, error=str(exc))
            return SyncOutcome(
                Sync.SYNCED, retry_in=retry_delay(exc, attempt), error=str(exc)
            )
        return SyncOutcome(Sync.SYNCED, issue_number=report.github_issue_number)
    finally:
        try:
            lock.release()
        except LockError:
            logger.warning("issue update lock of feedback %s had expired", report_id)


class SyncNotPossible(Exception):
    """The sync cannot be retried now (no GitHub settings, already synced)."""


def feedback_sync_retry(
    *, report: FeedbackReport, actor: Any, source: str = "admin"
) -> FeedbackReport:
    """Start a new round of attempts for a FAILED (or DISABLED) report.

    The attempts counter is kept, so the first attempt of the new round
    also looks for the marker before creating anything.
    """
    if not github_configured():
        raise SyncNotPossible("GITHUB_TOKEN and GITHUB_REPO are not set.")
    with transaction.atomic():
        locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
        if locked.sync_state == Sync.SYNCED or locked.github_issue_number:
            raise SyncNotPossible(
                f"Already synced as issue #{locked.github_issue_number}."
            )
        if locked.sync_state == Sync.PENDING:
            raise SyncNotPossible("A sync is already pending.")
        previous = locked.sync_state
        locked.sync_state = Sync.PENDING
        locked.sync_last_error = ""
        locked.save(update_fields=["sync_state", "sync_last_error"])
        audit(
            actor,
            "feedback.sync_retried",
            locked,
            {"sync_state": [previous, Sync.PENDING]},
            source=source,
        )
        broadcast("feedback_synced", feedback_event_data(locked))
        report_id = locked.pk
        transaction.on_commit(lambda: feedback_sync_enqueue(report_id))
    return locked


# -- issue state: webhooks and reconcile ----------------------------------------


def status_for_issue(issue: IssueRef, current: str) -> str:
    """The report status an issue's state means.

    closed + state_reason "completed" → RESOLVED; closed otherwise (not
    planned, duplicate, unknown) → CLOSED; open while the report is RESOLVED
    or CLOSED → OPEN; open otherwise keeps OPEN / IN_PROGRESS (triage).
    """
    if issue.state == "closed":
        return Status.RESOLVED if issue.state_reason == "completed" else Status.CLOSED
    if issue.state == "open" and current in (Status.RESOLVED, Status.CLOSED):
        return Status.OPEN
    return current


def _apply_issue_state(report: FeedbackReport, issue: IssueRef) -> bool:
    """Apply ``issue``'s state to the (locked) report; False for nothing new
    or an update older than the one applied last."""
    if (
        issue.updated_at is not None
        and report.github_state_at is not None
        and issue.updated_at < report.github_state_at
    ):
        return False
    status = status_for_issue(issue, report.status)
    changed = status != report.status
    if changed:
        set_status(report, status, issue.closed_at)
    if issue.updated_at is not None:
        report.github_state_at = issue.updated_at
    report.save(update_fields=["status", "resolved_at", "github_state_at"])
    return changed


def feedback_apply_issue_state(
    *, issue: IssueRef, source: str, delivery_id: str = ""
) -> FeedbackReport | None:
    """Map an issue's state onto the report linked to it (if any).

    Returns the report when its status changed, else None. Audited, and sent
    to dashboards as ``feedback_synced``.
    """
    with transaction.atomic():
        report = (
            FeedbackReport.objects.select_for_update()
            .filter(github_issue_number=issue.number)
            .first()
        )
        if report is None:
            return None
        before = (report.status, report.resolved_at)
        if not _apply_issue_state(report, issue):
            return None
        audit(
            None,
            "feedback.status_from_github",
            report,
            {
                "status": [before[0], report.status],
                "resolved_at": [before[1], report.resolved_at],
                "issue": issue.number,
                "state_reason": issue.state_reason,
                "delivery": delivery_id,
            },
            source=source,
        )
        broadcast("feedback_synced", feedback_event_data(report))
    return report


def feedback_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """What webhooks and lost tasks missed (the periodic task
    ``feedback.reconcile_github``).

    1. PENDING reports older than ``FEEDBACK_RECONCILE_PENDING_AFTER_SECONDS``
       with no attempt scheduled or running are queued again.
    2. Issues of the token's user updated since the last run (first run:
       ``FEEDBACK_RECONCILE_LOOKBACK_SECONDS``) are mapped onto their reports,
       for deliveries GitHub never made or never retried.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "issues_seen": 0, "status_changed": 0}
    if not github_configured():
        return counts
    redis = get_redis()
    stale = now - timedelta(seconds=conf("FEEDBACK_RECONCILE_PENDING_AFTER_SECONDS"))
    for report_id in selectors.reports_pending_sync(reported_before=stale).values_list(
        "pk", flat=True
    )[:500]:
        if redis.exists(SCHEDULED_KEY.format(report_id)) or redis.exists(
            LOCK_KEY.format(report_id)
        ):
            continue
        feedback_sync_enqueue(report_id)
        counts["requeued"] += 1

    cursor = redis.get(RECONCILE_CURSOR_KEY)
    if cursor:
        since = datetime.fromtimestamp(float(cursor), tz=now.tzinfo)
    else:
        since = now - timedelta(seconds=conf("FEEDBACK_RECONCILE_LOOKBACK_SECONDS"))
    started = now
    try:
        with gh.client_from_settings() as client:
            for issue in client.issues_updated_since(since):
                counts["issues_seen"] += 1
                if feedback_apply_issue_state(issue=issue, source="reconcile"):
                    counts["status_changed"] += 1
    except GitHubError as exc:
        logger.warning("feedback reconcile: GitHub failed: %s", exc)
        counts["error"] = 1
        return counts
    # A minute of overlap: GitHub's updated_at and our clock may disagree.
    redis.set(RECONCILE_CURSOR_KEY, str(started.timestamp() - 60))
    return counts
