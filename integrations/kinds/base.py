"""Contracts shared by every kind: probes, workflows, and their registry.

A kind package (``integrations/kinds/<kind>/``) holds ``client.py`` (talks to
the service through ``integrations.http``), ``probe.py`` (the health check),
``workflows.py`` (named test workflows) and ``simulator.py``. Each package
registers its probe and workflows at import; ``integrations.kinds.load_all()``
imports every package.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from integrations.http import OutboundClient
    from integrations.models import IntegrationEndpoint


M = TypeVar("M", bound=BaseModel)

HEALTHY = "HEALTHY"
DEGRADED = "DEGRADED"
UNHEALTHY = "UNHEALTHY"
TIMEOUT = "TIMEOUT"


@dataclass
class ProbeResult:
    """What one health check found; stored as an IntegrationHealthStatus."""

    status: str
    response_time_ms: int = 0
    status_code: int | None = None
    error_message: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class Probe:
    """The health check of one kind (PROTOCOLS.md gives each kind's rules)."""

    kind: ClassVar[str] = ""

    def __init__(self, endpoint: IntegrationEndpoint, http: OutboundClient) -> None:
        self.endpoint = endpoint
        self.http = http

    def check(self) -> ProbeResult:
        """Call the service and classify it HEALTHY, DEGRADED, UNHEALTHY or TIMEOUT.

        Must not raise for anything the service does (refused connections,
        timeouts, odd bodies are all results); an exception means a bug or a
        configuration error of ours and is recorded as UNHEALTHY by the caller.
        """
        raise NotImplementedError


def first_error(error: ValidationError) -> tuple[str, str]:
    """``(path, message)`` of the first mismatch of a failed validation."""
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "$", first["msg"]


def parse_shape(schema: type[M], data: object) -> tuple[M | None, str | None]:
    """Validate ``data`` against ``schema``: ``(model, None)``, or ``(None,
    "<msg> at <path>")`` naming the first mismatch (how probes report a wrong
    response format)."""
    try:
        return schema.model_validate(data), None
    except ValidationError as error:
        path, message = first_error(error)
        return None, f"{message} at {path}"


@dataclass
class Assertion:
    name: str
    expected: Any
    actual: Any
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkflowAbort(Exception):
    """Stop the workflow: a failed assertion made the rest meaningless (FAILED)."""


class WorkflowInputError(ValueError):
    """``test_data`` does not fit the workflow (HTTP 400 with details)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


@dataclass
class PendingCompensation:
    action: str
    payload: dict[str, Any]
    description: str = ""


@dataclass
class WorkflowContext:
    """What a running workflow sees and records."""

    endpoint: IntegrationEndpoint
    http: OutboundClient
    test_data: dict[str, Any]
    session_id: str | None = None
    configuration: dict[str, Any] = field(default_factory=dict)
    # Total raw already paid in this session (banano_payment's per-session cap).
    session_spent_raw: int = 0
    assertions: list[Assertion] = field(default_factory=list)
    compensations: list[PendingCompensation] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def check(self, name: str, expected: Any, actual: Any, passed: bool) -> bool:
        self.assertions.append(Assertion(name, expected, actual, bool(passed)))
        return bool(passed)

    def check_equal(self, name: str, expected: Any, actual: Any) -> bool:
        return self.check(name, expected, actual, expected == actual)

    def require(self, name: str, expected: Any, actual: Any, passed: bool) -> None:
        """Like ``check``, but a failure ends the workflow (FAILED)."""
        if not self.check(name, expected, actual, passed):
            raise WorkflowAbort(f"{name}: expected {expected!r}, got {actual!r}")

    def check_shape(self, name: str, schema: type[BaseModel], data: Any) -> Any:
        """Validate ``data`` against ``schema``; a mismatch is a failed
        "response format" assertion naming the offending path, and aborts."""
        try:
            return schema.model_validate(data)
        except ValidationError as error:
            path, message = first_error(error)
            self.check(
                f"response format: {name}",
                f"{schema.__name__} at {path}",
                f"{message} (at {path})",
                False,
            )
            raise WorkflowAbort(
                f"response format of {name}: {message} at {path}"
            ) from error

    def register_compensation(
        self, action: str, payload: dict[str, Any], description: str = ""
    ) -> None:
        """Ask session cleanup to undo something this run created."""
        self.compensations.append(PendingCompensation(action, payload, description))


class Workflow:
    """A named test workflow. Subclasses set ``name``, ``kinds``, ``input_model``
    and implement ``run``; ``compensate`` undoes what ``register_compensation``
    recorded."""

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    input_model: ClassVar[type[BaseModel] | None] = None

    def defaults(self, endpoint: IntegrationEndpoint) -> dict[str, Any]:
        """The test data used when the caller gives none (the endpoint's
        configured test identities)."""
        return {}

    def parse_input(self, endpoint: IntegrationEndpoint, data: dict[str, Any]) -> Any:
        merged = {**self.defaults(endpoint), **(data or {})}
        if self.input_model is None:
            return merged
        try:
            return self.input_model.model_validate(merged)
        except ValidationError as exc:
            details = {
                ".".join(str(p) for p in err["loc"]) or "test_data": [err["msg"]]
                for err in exc.errors()
            }
            raise WorkflowInputError("test_data is invalid", details) from exc

    def run(self, ctx: WorkflowContext, data: Any) -> None:
        raise NotImplementedError

    def compensate(
        self,
        endpoint: IntegrationEndpoint,
        http: OutboundClient,
        action: str,
        payload: dict,
    ) -> dict[str, Any]:
        """Undo ``action``; return what was done (shown in the cleanup report)."""
        raise NotImplementedError(f"{self.name} has no compensation {action!r}")


_PROBES: dict[str, type[Probe]] = {}
_WORKFLOWS: dict[str, type[Workflow]] = {}


def register_probe(cls: type[Probe]) -> type[Probe]:
    _PROBES[cls.kind] = cls
    return cls


def register_workflow(cls: type[Workflow]) -> type[Workflow]:
    if cls.name in _WORKFLOWS and _WORKFLOWS[cls.name] is not cls:
        raise ValueError(f"workflow {cls.name!r} registered twice")
    _WORKFLOWS[cls.name] = cls
    return cls


def probe_class(kind: str) -> type[Probe]:
    from integrations.kinds import load_all

    load_all()
    try:
        return _PROBES[kind]
    except KeyError:
        raise LookupError(f"no probe for kind {kind!r}") from None


def workflow_class(name: str) -> type[Workflow]:
    from integrations.kinds import load_all

    load_all()
    try:
        return _WORKFLOWS[name]
    except KeyError:
        raise LookupError(f"no workflow named {name!r}") from None


def workflow_names() -> list[str]:
    from integrations.kinds import load_all

    load_all()
    return sorted(_WORKFLOWS)
