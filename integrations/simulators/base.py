"""Building blocks shared by every simulator: requests, responses, routing, faults.

Nothing here imports Django: the simulators run in tests, in the ``simulate``
management command and embedded in the demo, always over real sockets.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from integrations.simulators.ledger import Ledger

logger = logging.getLogger(__name__)

MAX_LOGGED_BODY = 16 * 1024
REQUEST_LOG_SIZE = 200
MAX_HANG_SECONDS = 600.0


class Hub(Protocol):
    """What a service needs from the server that hosts it."""

    stopping: threading.Event
    ledger: Ledger

    @property
    def url(self) -> str: ...

    def service(self, name: str) -> Service: ...


class BodyError(ValueError):
    """The request body could not be decoded as the expected format."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime | float | None = None) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds (GitHub's format)."""
    if moment is None:
        moment = utc_now()
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Request:
    """One HTTP request as a simulator handler sees it."""

    def __init__(
        self,
        method: str,
        target: str,
        headers: Message,
        body: bytes,
        *,
        client: tuple[str, int] = ("127.0.0.1", 0),
        client_alive: Callable[[], bool] | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        split = urlsplit(target)
        self.method = method.upper()
        self.target = target
        self.full_path = split.path or "/"
        self.path = self.full_path
        self.raw_query = split.query
        self.query: dict[str, list[str]] = parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.client = client
        self.params: dict[str, str] = {}
        self.rate: RateInfo | None = None
        self.extra: dict[str, Any] = {}
        self._client_alive = client_alive or (lambda: True)
        self._stopping = stopping or threading.Event()

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def content_type(self) -> str:
        value = self.header("Content-Type", "") or ""
        return value.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BodyError(str(exc)) from exc

    def form(self) -> dict[str, str]:
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError(str(exc)) from exc
        parsed = parse_qs(text, keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for raw in self.headers.get_all("Cookie") or []:
            try:
                jar.load(raw)
            except CookieError:
                continue
        return {name: morsel.value for name, morsel in jar.items()}

    def client_alive(self) -> bool:
        return self._client_alive()

    def sleep(self, seconds: float) -> bool:
        """Sleep without holding up other requests; False if the server stops."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)


@dataclass
class Response:
    """An HTTP response; ``drop`` closes the connection without answering."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False

    @classmethod
    def json(
        cls,
        data: Any,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json",
    ) -> Response:
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("Content-Type", content_type), *headers])

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        return cls(
            status, text.encode("utf-8"), [("Content-Type", content_type), *headers]
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, b"", [("Location", location)])

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", [])

    @classmethod
    def dropped(cls) -> Response:
        return cls(0, b"", [], drop=True)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]
        self.headers.append((name, value))

    def default_header(self, name: str, value: str) -> None:
        if self.header(name) is None:
            self.headers.append((name, value))


Handler = Callable[[Request], Response]

_PARAM = re.compile(r"\{(\w+)(?::(path))?\}")


@dataclass
class RouteMatch:
    handler: Handler | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()


class Router:
    """Maps ``METHOD /path/{param}`` to handlers; ``{name:path}`` spans slashes."""

    def __init__(self) -> None:
        self._routes: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []

    def add(self, methods: str | Iterable[str], pattern: str, handler: Handler) -> None:
        if isinstance(methods, str):
            methods = methods.split()
        regex = ""
        position = 0
        for match in _PARAM.finditer(pattern):
            regex += re.escape(pattern[position : match.start()])
            name, kind = match.group(1), match.group(2)
            regex += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
            position = match.end()
        regex += re.escape(pattern[position:])
        compiled = re.compile(f"^{regex}$")
        self._routes.append((frozenset(m.upper() for m in methods), compiled, handler))

    def match(self, method: str, path: str) -> RouteMatch | None:
        allowed: list[str] = []
        for methods, regex, handler in self._routes:
            found = regex.match(path)
            if not found:
                continue
            if method in methods or (method == "HEAD" and "GET" in methods):
                params = {k: unquote(v) for k, v in found.groupdict().items()}
                return RouteMatch(handler, params)
            allowed.extend(sorted(methods))
        if allowed:
            return RouteMatch(None, {}, tuple(dict.fromkeys(allowed)))
        return None


@dataclass
class RateInfo:
    """Rate-limit bookkeeping for one request, for the service's headers."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds
    window_seconds: float
    limited: bool = False

    @property
    def reset_after(self) -> float:
        return max(0.0, self.reset_at - time.time())


class FixedWindow:
    """A fixed-window request counter; ``enforce`` turns it into a limiter."""

    def __init__(self, limit: int, window_seconds: float, *, enforce: bool) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.enforce = enforce
        self._start = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def _roll(self, now: float) -> None:
        if now >= self._start + self.window_seconds:
            self._start = now
            self._count = 0

    def hit(self) -> RateInfo:
        now = time.time()
        with self._lock:
            self._roll(now)
            reset_at = self._start + self.window_seconds
            if self.enforce and self._count >= self.limit:
                return RateInfo(self.limit, 0, reset_at, self.window_seconds, True)
            self._count += 1
            remaining = max(0, self.limit - self._count)
            return RateInfo(self.limit, remaining, reset_at, self.window_seconds)

    def peek(self) -> RateInfo:
        now = time.time()
        with self._lock:
            self._roll(now)
            remaining = max(0, self.limit - self._count)
            reset_at = self._start + self.window_seconds
            return RateInfo(self.limit, remaining, reset_at, self.window_seconds)


# --- faults -------------------------------------------------------------------


def _number(
    minimum: float = 0.0, maximum: float | None = None
) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value) or value < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum}")
        return float(value)

    return check


def _integer(minimum: int, maximum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _rate_limit(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or set(value) - {"limit", "window_seconds"}:
        raise ValueError('must be {"limit": N, "window_seconds": S}')
    limit = _integer(1, 10**9)(value.get("limit"))
    window = _number(0.001)(value.get("window_seconds", 1.0))
    return {"limit": limit, "window_seconds": window}


FaultValidator = Callable[[Any], Any]

GENERIC_FAULTS: dict[str, FaultValidator] = {
    "latency_ms": _number(0.0, 600_000.0),
    "latency_jitter_ms": _number(0.0, 600_000.0),
    "error_rate": _number(0.0, 1.0),
    "error_status": _integer(400, 599),
    "forced_status": _integer(200, 599),
    "rate_limited": _boolean,
    "retry_after": _number(0.0, 86_400.0),
    "rate_limit": _rate_limit,
    "rate_limit_scope": _string,
    "outage": _boolean,
    "hang": _boolean,
    "flap_every": _integer(1, 10**9),
}

FAULT_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0.0,
    "latency_jitter_ms": 0.0,
    "error_rate": 0.0,
    "error_status": 500,
    "forced_status": None,
    "rate_limited": False,
    "retry_after": 2.0,
    "rate_limit": None,
    "rate_limit_scope": None,
    "outage": False,
    "hang": False,
    "flap_every": None,
}


class FaultError(ValueError):
    """A control request named an unknown fault or gave a bad value."""


class RequestLog:
    """The last requests a service saw, newest last, plus a running count."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._count = 0
        self._lock = threading.Lock()

    def record(self, request: Request) -> dict[str, Any]:
        body = request.body[:MAX_LOGGED_BODY].decode("utf-8", "replace")
        with self._lock:
            self._count += 1
            entry: dict[str, Any] = {
                "seq": self._count,
                "time": utc_now().isoformat(),
                "method": request.method,
                "path": request.target,
                "headers": dict(request.headers.items()),
                "body": body,
                "status": None,
                "outcome": "pending",
                "duration_ms": None,
            }
            self._entries.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._count = 0

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        with self._lock:
            entries = list(self._entries)
            count = self._count
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        return {"count": count, "requests": entries}

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


# --- services -----------------------------------------------------------------


class Service:
    """One simulated external service mounted under ``/<prefix>`` of the server.

    Subclasses register routes in ``routes()`` (paths relative to the prefix),
    rebuild their seeded state in ``seed()``, and shape errors in ``error()`` and
    ``rate_limited()`` the way the real service does. Faults apply to these routes
    only; the control API under ``/_control`` is never faulted.
    """

    name: ClassVar[str]
    prefix: ClassVar[str]
    base_path: ClassVar[str] = ""
    extra_faults: ClassVar[dict[str, FaultValidator]] = {}
    default_settings: ClassVar[dict[str, Any]] = {}
    setting_validators: ClassVar[dict[str, FaultValidator]] = {}
    # Headers advertise this budget; it is only enforced via the rate_limit fault.
    nominal_limit: ClassVar[int] = 1000
    nominal_window_seconds: ClassVar[float] = 60.0

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.lock = threading.RLock()
        self.router = Router()
        self.control_router = Router()
        self.log = RequestLog()
        self.random = random.Random()
        self.faults: dict[str, Any] = {}
        self.settings: dict[str, Any] = dict(self.default_settings)
        self._limiter: FixedWindow | None = None
        self._nominal = FixedWindow(
            self.nominal_limit, self.nominal_window_seconds, enforce=False
        )
        self._served = 0
        self._cold_until = 0.0
        self._cold_delay: float | None = None
        self._fault_generation = 0
        self.started_at = time.time()
        self.routes()
        self.control_routes()
        self.seed()

    # -- hooks for subclasses -------------------------------------------------

    def routes(self) -> None:
        """Register the service's own routes on ``self.router``."""

    def control_routes(self) -> None:
        """Register service-specific control routes (relative to /_control/<name>)."""

    def seed(self) -> None:
        """(Re)build the seeded state."""

    def describe(self) -> dict[str, Any]:
        """A JSON summary of the service's state for the control API."""
        return {}

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        """An error in this service's own shape."""
        return Response.json(
            {
                "error": reason_phrase(status),
                "message": message or reason_phrase(status),
            },
            status,
        )

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        """A 429 in this service's own shape (headers are added by ``decorate``)."""
        response = self.error(request, 429, "rate limited")
        response.set_header("Retry-After", str(math.ceil(retry_after)))
        return response

    def counts_toward_limit(self, request: Request) -> bool:
        """Whether the request uses up rate-limit budget (GitHub's /rate_limit not)."""
        return True

    def before_route(self, request: Request) -> Response | None:
        """Service-specific faults checked after the generic ones."""
        return None

    def decorate(self, request: Request, response: Response) -> None:
        """Add the headers the service puts on every response."""

    # -- state ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.hub.url}{self.prefix}{self.base_path}"

    def fault(self, name: str) -> Any:
        with self.lock:
            if name in self.faults:
                return self.faults[name]
        return FAULT_DEFAULTS.get(name)

    def update_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        validators = {**GENERIC_FAULTS, **self.extra_faults}
        cleaned: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in validators:
                raise FaultError(
                    f"unknown fault {key!r}; allowed: {sorted(validators)}"
                )
            if value is None:
                cleaned[key] = None
                continue
            try:
                cleaned[key] = validators[key](value)
            except ValueError as exc:
                raise FaultError(f"{key}: {exc}") from exc
        with self.lock:
            for key, value in cleaned.items():
                if value is None:
                    self.faults.pop(key, None)
                else:
                    self.faults[key] = value
            if "rate_limit" in cleaned:
                spec = self.faults.get("rate_limit")
                self._limiter = (
                    FixedWindow(spec["limit"], spec["window_seconds"], enforce=True)
                    if spec
                    else None
                )
            if "flap_every" in cleaned:
                self._served = 0
            self._fault_generation += 1
            self.on_faults_changed(cleaned)
            return dict(self.faults)

    def on_faults_changed(self, changed: dict[str, Any]) -> None:
        """Hook for service-specific fault bookkeeping (called under the lock)."""

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self._limiter = None
            self._served = 0
            self._fault_generation += 1
            self.on_faults_changed({})

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in self.default_settings:
                raise FaultError(
                    f"unknown setting {key!r}; allowed: {sorted(self.default_settings)}"
                )
            validator = self.setting_validators.get(key)
            if validator is not None and value is not None:
                try:
                    value = validator(value)
                except ValueError as exc:
                    raise FaultError(f"{key}: {exc}") from exc
            cleaned[key] = self.default_settings[key] if value is None else value
        with self.lock:
            self.settings.update(cleaned)
            return dict(self.settings)

    def cold_restart(self, seconds: float, delay_seconds: float | None = None) -> None:
        with self.lock:
            self.started_at = time.time()
            self._cold_until = self.started_at + seconds
            self._cold_delay = delay_seconds

    def cold_state(self) -> dict[str, Any]:
        with self.lock:
            remaining = max(0.0, self._cold_until - time.time())
            return {
                "cold": remaining > 0,
                "remaining_seconds": round(remaining, 3),
                "delay_seconds": self._cold_delay,
            }

    def reset(self) -> None:
        with self.lock:
            self.clear_faults()
            self.settings = dict(self.default_settings)
            self._cold_until = 0.0
            self._cold_delay = None
            self.started_at = time.time()
            self._nominal = FixedWindow(
                self.nominal_limit, self.nominal_window_seconds, enforce=False
            )
            self.log.clear()
            self.seed()

    def state(self) -> dict[str, Any]:
        with self.lock:
            faults = dict(self.faults)
            settings = dict(self.settings)
        return {
            "name": self.name,
            "base_url": self.base_url,
            "faults": faults,
            "settings": settings,
            "cold_start": self.cold_state(),
            "requests_seen": self.log.count,
            "state": self.describe(),
        }

    # -- request handling -----------------------------------------------------

    def handle(self, request: Request) -> Response:
        entry = self.log.record(request)
        started = time.monotonic()
        try:
            response = self._handle(request)
        except Exception:  # a simulator bug must still answer like a server would
            logger.exception("simulator %s failed on %s", self.name, request.target)
            response = self.error(request, 500, "simulator error")
        if not response.drop:
            try:
                self.decorate(request, response)
            except Exception:
                logger.exception("simulator %s failed decorating", self.name)
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        if response.drop:
            entry["outcome"] = "dropped"
        else:
            entry["outcome"] = "answered"
            entry["status"] = response.status
        return response

    def _cold_wait(self, request: Request) -> None:
        with self.lock:
            remaining = self._cold_until - time.time()
            delay = self._cold_delay
        if remaining <= 0:
            return
        request.sleep(remaining if delay is None else delay)

    def _hang(self, request: Request) -> None:
        with self.lock:
            generation = self._fault_generation
        deadline = time.monotonic() + MAX_HANG_SECONDS
        while time.monotonic() < deadline:
            if not request.sleep(0.05) or not request.client_alive():
                return
            with self.lock:
                if self._fault_generation != generation and not self.faults.get("hang"):
                    return

    def status_response(self, request: Request, status: int) -> Response:
        if status == 429:
            retry_after = float(self.fault("retry_after"))
            rate = request.rate or self._nominal.peek()
            rate.limited = True
            rate.remaining = 0
            rate.reset_at = time.time() + retry_after
            request.rate = rate
            return self.rate_limited(request, retry_after)
        return self.error(request, status)

    def _handle(self, request: Request) -> Response:
        self._cold_wait(request)
        with self.lock:
            self._served += 1
            served = self._served
            faults = dict(self.faults)
            limiter = self._limiter
        flap = faults.get("flap_every")
        if faults.get("outage") or (flap and ((served - 1) // flap) % 2 == 1):
            return Response.dropped()
        if faults.get("hang"):
            self._hang(request)
            return Response.dropped()
        latency = faults.get("latency_ms", 0.0)
        jitter = faults.get("latency_jitter_ms", 0.0)
        if latency or jitter:
            delay = latency + (self.random.uniform(-jitter, jitter) if jitter else 0.0)
            request.sleep(max(0.0, delay) / 1000.0)
        counter = limiter or self._nominal
        request.rate = (
            counter.hit() if self.counts_toward_limit(request) else counter.peek()
        )
        forced = faults.get("forced_status")
        if forced:
            return self.status_response(request, forced)
        retry_after = float(faults.get("retry_after", FAULT_DEFAULTS["retry_after"]))
        if faults.get("rate_limited"):
            request.rate.limited = True
            request.rate.remaining = 0
            request.rate.reset_at = time.time() + retry_after
            return self.rate_limited(request, retry_after)
        if request.rate.limited:
            return self.rate_limited(request, request.rate.reset_after)
        error_rate = faults.get("error_rate", 0.0)
        if error_rate and self.random.random() < error_rate:
            return self.status_response(request, faults.get("error_status", 500))
        early = self.before_route(request)
        if early is not None:
            return early
        return self.route(request)

    def route(self, request: Request) -> Response:
        match = self.router.match(request.method, request.path)
        if match is None:
            return self.error(request, 404)
        if match.handler is None:
            response = self.error(request, 405)
            response.set_header("Allow", ", ".join(match.allowed))
            return response
        request.params = match.params
        return match.handler(request)
