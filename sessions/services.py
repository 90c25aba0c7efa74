"""Services of test sessions: create, change, run workflows in, clean up.

Each writes inside ``transaction.atomic``, leaves an audit record in the same
transaction and tells dashboards after the commit (``testenv.realtime``).
Errors are ``testenv.errors`` domain errors: ``InputError`` (400),
``ConflictError`` (409), which the API turns into the error envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.models import Compensation, IntegrationEndpoint
from sessions.models import IllegalTransition, TestResult, TestSession
from sessions.selectors import PAYMENT_WORKFLOW, session_spent_raw
from testenv.audit import audit
from testenv.errors import ConflictError, InputError
from testenv.realtime import broadcast

logger = logging.getLogger(__name__)

# How long a payment run may hold its session's payment lock. A payment that
# outlives it (hung node, many retries) lets the next one in, so keep it well
# above the endpoint timeout times its retries.
PAYMENT_LOCK_SECONDS = 600
PAYMENT_LOCK_WAIT_SECONDS = 30
CLEANUP_LOCK_SECONDS = 900


# ------------------------------------------------------------------ broadcasts


def _session_event(session: TestSession) -> dict[str, Any]:
    from sessions.serializers import TestSessionSerializer

    return dict(TestSessionSerializer(session).data)


def _result_event(result: TestResult) -> dict[str, Any]:
    from sessions.serializers import TestResultSerializer

    data = dict(TestResultSerializer(result).data)
    # The socket carries the verdict; the captured exchange is read over the
    # API (it can be large).
    data.pop("request_data", None)
    data.pop("response_data", None)
    return data


# ---------------------------------------------------------------- create/update


def _active_conflict(*, tester_id: int | None, name: str | None, exclude=None):
    active = TestSession.objects.filter(status=TestSession.Status.ACTIVE)
    if exclude is not None:
        active = active.exclude(pk=exclude)
    if tester_id is not None:
        mine = active.filter(tester_id=tester_id).first()
        if mine is not None:
            return ConflictError(
                "The tester already has an ACTIVE session; pause or finish it first.",
                {"active_session_id": str(mine.pk), "tester_id": tester_id},
            )
    if name is not None:
        same = active.filter(name=name).first()
        if same is not None:
            return ConflictError(
                f"An ACTIVE session is already named {name!r}.",
                {"active_session_id": str(same.pk), "name": name},
            )
    return None


def session_create(
    *,
    actor: Any,
    name: str,
    tester_id: int,
    description: str = "",
    configuration: dict[str, Any] | None = None,
) -> TestSession:
    """Create an ACTIVE session for ``tester_id``.

    ``ConflictError`` when the tester already has an ACTIVE session or an
    ACTIVE session has this name. The check runs first for a useful message,
    and the database constraints decide when two requests race.
    """
    if conflict := _active_conflict(tester_id=tester_id, name=name):
        raise conflict
    try:
        with transaction.atomic():
            session = TestSession.objects.create(
                name=name,
                tester_id=tester_id,
                description=description,
                configuration=configuration or {},
                status=TestSession.Status.ACTIVE,
                started_at=timezone.now(),
            )
            audit(
                actor,
                "session.create",
                session,
                {
                    "name": name,
                    "tester_id": tester_id,
                    "configuration": session.configuration,
                },
            )
            broadcast("session_updated", _session_event(session))
    except IntegrityError:
        raise _active_conflict(tester_id=tester_id, name=name) or ConflictError(
            "Another ACTIVE session conflicts with this one."
        ) from None
    return session


def session_update(
    *,
    session: TestSession,
    actor: Any,
    status: str | None = None,
    configuration: dict[str, Any] | None = None,
    reason: str = "",
    source: str = "api",
) -> TestSession:
    """Change the status (through the state machine) and/or the configuration.

    ``source`` names who asked in the audit trail ("api", "admin", or
    "rollback-trigger" for the automatic pause).

    ``ConflictError`` for a transition the state machine refuses, and for a
    resume while the tester (or the name) already has another ACTIVE session.
    """
    try:
        with transaction.atomic():
            locked = TestSession.objects.select_for_update().get(pk=session.pk)
            changes: dict[str, Any] = {}
            if status is not None:
                before = locked.status
                try:
                    locked.transition_to(status, reason=reason)
                except IllegalTransition as exc:
                    raise ConflictError(
                        f"Illegal transition: {exc}.",
                        {
                            "current": exc.current,
                            "target": exc.target,
                            "allowed": sorted(TestSession.TRANSITIONS[exc.current]),
                        },
                    ) from None
                changes["status"] = [before, status]
            if configuration is not None:
                changes["configuration"] = [locked.configuration, configuration]
                locked.configuration = configuration
            if changes:
                locked.save()
                audit(actor, "session.update", locked, changes, source=source)
                broadcast("session_updated", _session_event(locked))
    except IntegrityError:
        raise _active_conflict(
            tester_id=session.tester_id, name=session.name, exclude=session.pk
        ) or ConflictError("Another ACTIVE session conflicts with this one.") from None
    return locked


# --------------------------------------------------------------------- results


@dataclass
class _ErrorOutcome:
    """What is stored when running the workflow itself blew up."""

    error_details: str
    started_at: datetime
    status: str = TestResult.Status.ERROR
    assertions: list = field(default_factory=list)
    request_data: dict = field(default_factory=dict)
    response_data: dict = field(default_factory=dict)
    duration_ms: int = 0
    completed_at: datetime | None = None
    compensations: list = field(default_factory=list)
    trace_id: str = ""
    mode: str = ""


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it.

    PostgreSQL refuses NUL in text and in jsonb strings ("cannot contain NUL
    (0x00) bytes"), and a service's reply or an exception message can carry
    one: the result must still be stored.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def _assertion_dicts(assertions: Any) -> list[dict[str, Any]]:
    out = []
    for item in assertions or []:
        if hasattr(item, "as_dict"):
            item = item.as_dict()
        elif not isinstance(item, dict):
            item = {
                "name": getattr(item, "name", str(item)),
                "expected": getattr(item, "expected", None),
                "actual": getattr(item, "actual", None),
                "passed": bool(getattr(item, "passed", False)),
            }
        out.append(item)
    return out


def result_record(
    *,
    session: TestSession,
    endpoint: IntegrationEndpoint,
    test_name: str,
    outcome: Any,
) -> TestResult:
    """Store a workflow outcome as a TestResult with its compensations.

    Runs inside the caller's transaction; the caller audits and broadcasts.
    """
    now = timezone.now()
    started_at = getattr(outcome, "started_at", None) or now
    completed_at = getattr(outcome, "completed_at", None) or now
    completed_at = max(completed_at, started_at)
    response_data = getattr(outcome, "response_data", None)
    response_data = response_data if isinstance(response_data, dict) else {}
    notes = getattr(outcome, "notes", None)
    if isinstance(notes, dict) and notes and "notes" not in response_data:
        response_data = {**response_data, "notes": notes}
    request_data = getattr(outcome, "request_data", None)
    duration = getattr(outcome, "duration_ms", None)
    if duration is None:
        duration = int((completed_at - started_at).total_seconds() * 1000)
    result = TestResult.objects.create(
        session=session,
        endpoint=endpoint,
        test_name=test_name,
        status=str(outcome.status),
        started_at=started_at,
        completed_at=completed_at,
        request_data=_without_nul(
            request_data if isinstance(request_data, dict) else {}
        ),
        response_data=_without_nul(response_data),
        assertions=_without_nul(_assertion_dicts(getattr(outcome, "assertions", []))),
        error_details=_without_nul(str(getattr(outcome, "error_details", "") or "")),
        mode=str(getattr(outcome, "mode", "") or endpoint.mode),
        duration_ms=max(0, int(duration)),
        trace_id=str(getattr(outcome, "trace_id", "") or "")[:32],
    )
    for pending in getattr(outcome, "compensations", None) or []:
        Compensation.objects.create(
            session=session,
            endpoint=endpoint,
            workflow=test_name,
            action=pending.action,
            payload=_without_nul(pending.payload or {}),
            description=(pending.description or "")[:300],
        )
    return result


@contextmanager
def _session_lock(
    session: TestSession, purpose: str, *, timeout: int, wait: float | None
) -> Iterator[None]:
    """A Redis lock shared by every web and worker process.

    Not a database row lock: a workflow makes network calls for seconds, and
    holding a transaction open that long would block every other writer
    (on SQLite, the whole database).
    """
    from testenv.redis import get_redis

    lock = get_redis().lock(
        f"testenv:session:{session.pk}:{purpose}",
        timeout=timeout,
        blocking=wait is not None,
        blocking_timeout=wait,
    )
    if not lock.acquire():
        raise ConflictError(
            f"Another {purpose} of this session is in progress; try again later.",
            {"session_id": str(session.pk)},
        )
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: nothing left to release
            logger.warning("session %s %s lock had expired", session.pk, purpose)


def _endpoint_secrets(endpoint: IntegrationEndpoint) -> frozenset[str]:
    from integrations.redaction import secret_values

    try:
        return secret_values(endpoint.get_credentials())
    except Exception:  # undecryptable credentials: nothing to search for
        return frozenset()


def _run(
    *,
    session: TestSession,
    endpoint: IntegrationEndpoint,
    test_name: str,
    test_data: dict[str, Any],
) -> Any:
    from integrations.kinds.base import WorkflowInputError
    from integrations.workflows import run_workflow

    started_at = timezone.now()
    try:
        return run_workflow(
            endpoint=endpoint,
            name=test_name,
            test_data=test_data,
            session_id=str(session.pk),
            configuration=session.configuration or {},
            session_spent_raw=session_spent_raw(session),
        )
    except WorkflowInputError as exc:
        details = exc.details or {"test_data": [str(exc)]}
        raise InputError(str(exc), details) from exc
    except LookupError as exc:
        raise InputError(str(exc), {"test_name": [str(exc)]}) from exc
    except Exception as exc:
        # run_workflow turns a workflow's own failures into ERROR outcomes;
        # reaching here is a bug of ours, still recorded so the tester sees it.
        logger.exception("workflow %s on %s crashed", test_name, endpoint.pk)
        from integrations.redaction import redact_text, registered_secrets

        # The message may quote anything, an endpoint's credentials included.
        secrets = registered_secrets() | _endpoint_secrets(endpoint)
        return _ErrorOutcome(
            error_details=redact_text(
                f"internal error: {exc.__class__.__name__}: {exc}", secrets
            ),
            started_at=started_at,
            completed_at=timezone.now(),
            mode=endpoint.mode,
        )


def workflow_run_in_session(
    *,
    session: TestSession,
    endpoint: IntegrationEndpoint,
    test_name: str,
    test_data: dict[str, Any] | None,
    user: Any,
) -> TestResult:
    """Run workflow ``test_name`` on ``endpoint`` in ``session`` and store it.

    ``ConflictError`` when the session is not ACTIVE or the endpoint is
    disabled; ``InputError`` for an unknown workflow, one that does not fit the
    endpoint's kind, or bad ``test_data``. Payments of one session run one at
    a time, so the per-session cap (``configuration.max_payment_ban``) sees
    every earlier payment. Broadcasts ``test_result`` after the commit.
    """
    session.refresh_from_db()
    if session.status != TestSession.Status.ACTIVE:
        raise ConflictError(
            f"The session is {session.status}: workflows run only in an ACTIVE "
            "session.",
            {"session_status": session.status},
        )
    if not endpoint.enabled:
        raise ConflictError(
            f"Endpoint {endpoint.name!r} is disabled.", {"endpoint_id": endpoint.pk}
        )
    if test_name == PAYMENT_WORKFLOW:
        with _session_lock(
            session,
            "payment",
            timeout=PAYMENT_LOCK_SECONDS,
            wait=PAYMENT_LOCK_WAIT_SECONDS,
        ):
            return _run_and_record(session, endpoint, test_name, test_data or {}, user)
    return _run_and_record(session, endpoint, test_name, test_data or {}, user)


def _run_and_record(
    session: TestSession,
    endpoint: IntegrationEndpoint,
    test_name: str,
    test_data: dict[str, Any],
    user: Any,
) -> TestResult:
    outcome = _run(
        session=session, endpoint=endpoint, test_name=test_name, test_data=test_data
    )
    with transaction.atomic():
        result = result_record(
            session=session, endpoint=endpoint, test_name=test_name, outcome=outcome
        )
        audit(
            user,
            "session.workflow_run",
            result,
            {
                "session_id": str(session.pk),
                "endpoint_id": endpoint.pk,
                "test_name": test_name,
                "status": result.status,
            },
        )
        result = TestResult.objects.select_related("endpoint").get(pk=result.pk)
        broadcast("test_result", _result_event(result))
    return result


# --------------------------------------------------------------------- cleanup


def _compensation_report(compensation: Compensation) -> dict[str, Any]:
    return {
        "id": compensation.pk,
        "endpoint_id": compensation.endpoint_id,
        "workflow": compensation.workflow,
        "action": compensation.action,
        "description": compensation.description,
        "state": compensation.state,
        "done_at": compensation.done_at,
        "result": compensation.result if isinstance(compensation.result, dict) else {},
    }


def session_cleanup(*, session: TestSession, actor: Any) -> dict[str, Any]:
    """Undo what the session's workflows created; keep its feedback.

    Runs every PENDING compensation, and again every FAILED one (the service
    may have been down the first time), newest first so that later steps are
    undone before the ones they built on. Each is marked DONE or FAILED with
    what the undo returned. Returns a report of all the session's
    compensations. ``ConflictError`` while another cleanup of the session runs.
    """
    from integrations.workflows import run_compensation

    undone = failed = 0
    with _session_lock(session, "cleanup", timeout=CLEANUP_LOCK_SECONDS, wait=None):
        todo = (
            session.compensations.filter(
                state__in=[Compensation.State.PENDING, Compensation.State.FAILED]
            )
            .select_related("endpoint")
            .order_by("-created_at", "-id")
        )
        for compensation in list(todo):
            try:
                outcome = run_compensation(
                    endpoint=compensation.endpoint,
                    workflow_name=compensation.workflow,
                    action=compensation.action,
                    payload=compensation.payload or {},
                )
            except Exception as exc:
                # Unknown workflow (renamed since) or a bug: recorded, not fatal
                # to the rest of the cleanup.
                logger.warning(
                    "compensation %s of session %s failed",
                    compensation.pk,
                    session.pk,
                    exc_info=True,
                )
                outcome = {
                    "ok": False,
                    "action": compensation.action,
                    "error": f"{exc.__class__.__name__}: {exc}",
                }
            outcome = outcome if isinstance(outcome, dict) else {"ok": bool(outcome)}
            compensation.result = _without_nul(outcome)
            if outcome.get("ok", True):
                compensation.state = Compensation.State.DONE
                compensation.done_at = timezone.now()
                undone += 1
            else:
                compensation.state = Compensation.State.FAILED
                compensation.done_at = None
                failed += 1
            compensation.save(update_fields=["state", "result", "done_at"])

        everything = list(
            session.compensations.order_by("created_at", "id").select_related(
                "endpoint"
            )
        )
        report = {
            "session_id": str(session.pk),
            "undone": undone,
            "failed": failed,
            "already_done": sum(
                1 for c in everything if c.state == Compensation.State.DONE
            )
            - undone,
            "feedback_kept": session.feedback_reports.count(),
            "compensations": [_compensation_report(c) for c in everything],
        }
        with transaction.atomic():
            audit(
                actor,
                "session.cleanup",
                session,
                {"undone": undone, "failed": failed},
            )
            session.refresh_from_db()
            broadcast(
                "session_updated",
                {
                    **_session_event(session),
                    "cleanup": {"undone": undone, "failed": failed},
                },
            )
    return report
