"""Run a named workflow against an endpoint and turn what happened into an outcome.

The sessions app stores a ``WorkflowOutcome`` as a TestResult and the
compensations as Compensation rows; this module knows nothing about either.

Status rules: every assertion passed → PASSED; a failed assertion or a
``WorkflowAbort`` → FAILED; an ``OutboundError`` (timeout, refused connection,
production host) or any unexpected exception → ERROR; a disabled endpoint or
``WorkflowSkipped`` → SKIPPED. Input problems raise before anything is sent:
``UnknownWorkflow``, ``WorkflowKindMismatch`` and the workflow's own
``WorkflowInputError`` (all ``WorkflowInputError``, which the API answers with
400).

Everything recorded (exchanges, assertions, notes, error details) passes
through the client's redactor: no credential of the endpoint and no token seen
in its traffic reaches the outcome.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from opentelemetry import trace
from pydantic import BaseModel

from integrations.http import OutboundError, get_client
from integrations.kinds.base import (
    PendingCompensation,
    WorkflowAbort,
    WorkflowContext,
    WorkflowInputError,
    workflow_class,
)
from testenv.observability import current_trace_id

if TYPE_CHECKING:
    from integrations.http import OutboundClient
    from integrations.models import IntegrationEndpoint

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

PASSED = "PASSED"
FAILED = "FAILED"
ERROR = "ERROR"
SKIPPED = "SKIPPED"

_REQUEST_FIELDS = ("request_headers", "request_body")
_RESPONSE_FIELDS = (
    "status",
    "elapsed_ms",
    "response_headers",
    "response_body",
    "error",
)
_SHARED_FIELDS = ("seq", "label", "method", "url", "attempt", "at")


class UnknownWorkflow(WorkflowInputError):
    """No workflow is registered under that name."""


class WorkflowKindMismatch(WorkflowInputError):
    """The workflow does not run on the endpoint's kind."""


class WorkflowSkipped(Exception):
    """Raised by a workflow that cannot apply here (the result is SKIPPED)."""


@dataclass
class WorkflowOutcome:
    status: str
    assertions: list[dict[str, Any]]
    request_data: dict[str, Any]
    response_data: dict[str, Any]
    error_details: str
    duration_ms: int
    started_at: datetime
    completed_at: datetime
    compensations: list[PendingCompensation] = field(default_factory=list)
    trace_id: str = ""
    mode: str = ""


def _test_data_dict(parsed: Any) -> dict[str, Any]:
    if isinstance(parsed, BaseModel):
        return parsed.model_dump(mode="json")
    return dict(parsed or {})


def _split_exchanges(
    exchanges: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The request halves and the response halves, joined by ``seq``."""
    requests_, responses = [], []
    for seq, exchange in enumerate(exchanges, start=1):
        shared = {"seq": seq, **{k: exchange.get(k) for k in _SHARED_FIELDS[1:]}}
        requests_.append({**shared, **{k: exchange.get(k) for k in _REQUEST_FIELDS}})
        responses.append({**shared, **{k: exchange.get(k) for k in _RESPONSE_FIELDS}})
    return requests_, responses


def _describe(error: BaseException, client: OutboundClient) -> str:
    text = str(error) or type(error).__name__
    return client.redact(text)


def run_workflow(
    *,
    endpoint: IntegrationEndpoint,
    name: str,
    test_data: dict[str, Any] | None,
    session_id: str | None,
    configuration: dict[str, Any],
    session_spent_raw: int = 0,
) -> WorkflowOutcome:
    """Run workflow ``name`` on ``endpoint`` and return what happened.

    Raises ``UnknownWorkflow``, ``WorkflowKindMismatch`` or the workflow's
    ``WorkflowInputError`` (all HTTP 400) before any call; never raises for
    what the service does.
    """
    try:
        cls = workflow_class(name)
    except LookupError:
        raise UnknownWorkflow(
            f"no workflow named {name!r}", {"test_name": [f"unknown workflow {name!r}"]}
        ) from None
    if endpoint.kind not in cls.kinds:
        raise WorkflowKindMismatch(
            f"{name} runs on {', '.join(cls.kinds) or 'no kind'}, "
            f"not on {endpoint.kind} endpoints",
            {"endpoint_id": [f"{name} does not run on a {endpoint.kind} endpoint"]},
        )
    workflow = cls()
    parsed = workflow.parse_input(endpoint, test_data or {})
    client = get_client(endpoint)
    ctx = WorkflowContext(
        endpoint=endpoint,
        http=client,
        test_data=_test_data_dict(parsed),
        session_id=session_id,
        configuration=dict(configuration or {}),
        session_spent_raw=session_spent_raw,
    )
    started_at = timezone.now()
    started = time.perf_counter()
    status, error_details = PASSED, ""
    with tracer.start_as_current_span(f"workflow {name}") as span:
        trace_id = current_trace_id() or uuid.uuid4().hex
        if span.is_recording():
            span.set_attribute("testenv.workflow", name)
            span.set_attribute("testenv.endpoint", endpoint.name)
        if not endpoint.enabled:
            status, error_details = SKIPPED, "the endpoint is disabled"
        else:
            try:
                workflow.run(ctx, parsed)
            except WorkflowInputError:
                raise
            except WorkflowSkipped as skipped:
                status, error_details = SKIPPED, _describe(skipped, client)
            except WorkflowAbort as abort:
                status, error_details = FAILED, _describe(abort, client)
            except OutboundError as error:
                status = ERROR
                error_details = f"{type(error).__name__}: {_describe(error, client)}"
            except Exception as error:  # a bug or an odd answer: ERROR, not a 500
                status = ERROR
                error_details = (
                    f"unexpected {type(error).__name__}: {_describe(error, client)}"
                )
                # The traceback goes to the log only, redacted: a secret can sit
                # in an exception message anywhere down the stack.
                logger.error(
                    "workflow %s on %s crashed:\n%s",
                    name,
                    endpoint.name,
                    client.redact("".join(traceback.format_exception(error))),
                )
            else:
                if any(not assertion.passed for assertion in ctx.assertions):
                    failed = [a.name for a in ctx.assertions if not a.passed]
                    status = FAILED
                    error_details = "failed assertions: " + ", ".join(failed)
        if span.is_recording():
            span.set_attribute("testenv.status", status)
    duration_ms = round((time.perf_counter() - started) * 1000)
    requests_, responses = _split_exchanges(client.take_exchanges())
    return WorkflowOutcome(
        status=status,
        assertions=[client.redact(a.as_dict()) for a in ctx.assertions],
        request_data={
            "test_data": client.redact(ctx.test_data),
            "exchanges": requests_,
        },
        response_data={"exchanges": responses, "notes": client.redact(ctx.notes)},
        error_details=error_details,
        duration_ms=duration_ms,
        started_at=started_at,
        completed_at=timezone.now(),
        compensations=[
            PendingCompensation(c.action, client.redact(c.payload), c.description)
            for c in ctx.compensations
        ],
        trace_id=trace_id,
        mode=endpoint.mode,
    )


def run_compensation(
    *,
    endpoint: IntegrationEndpoint,
    workflow_name: str,
    action: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """Undo one thing a workflow created (session cleanup).

    Returns ``{"ok", "action", "result", "error", "exchanges"}``; a failure of
    the service or of the compensation is reported (``ok`` false), not raised.
    Raises ``UnknownWorkflow`` when the workflow no longer exists.
    """
    try:
        cls = workflow_class(workflow_name)
    except LookupError:
        raise UnknownWorkflow(f"no workflow named {workflow_name!r}") from None
    client = get_client(endpoint)
    ok, result, error_text = True, {}, ""
    try:
        result = cls().compensate(endpoint, client, action, payload) or {}
    except OutboundError as error:
        ok, error_text = False, f"{type(error).__name__}: {_describe(error, client)}"
    except Exception as error:
        ok = False
        error_text = f"unexpected {type(error).__name__}: {_describe(error, client)}"
        logger.error(
            "compensation %s of %s on %s crashed:\n%s",
            action,
            workflow_name,
            endpoint.name,
            client.redact("".join(traceback.format_exception(error))),
        )
    return {
        "ok": ok,
        "action": action,
        "result": client.redact(result),
        "error": error_text,
        "exchanges": client.take_exchanges(),
    }
