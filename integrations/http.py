"""The one outbound HTTP layer: every client of every kind calls through here.

``get_client(endpoint)`` gives an ``OutboundClient`` bound to one endpoint. Per
request it:

1. refuses hosts in ``PRODUCTION_HOSTS`` (before anything leaves, and again in
   the transport adapter for every redirect hop): ``ProductionHostRefused``;
2. waits for a slot of the endpoint's ``rate_limit_per_minute``, shared by all
   processes through Redis (``integrations.ratelimit``);
3. sends with the endpoint's ``timeout_seconds`` over a connection pool kept
   per endpoint and process;
4. retries with exponential backoff and full jitter (tenacity), waiting at
   least what the service asked for (``Retry-After`` in seconds or as a date,
   Discord's body ``retry_after``, Yunite's ``Y-RateLimit-ResetIn``, GitHub's
   ``x-ratelimit-reset``), for at most ``1 + endpoint.retry_attempts`` attempts;
5. records every attempt, secrets redacted, in ``client.exchanges``, and opens
   an OpenTelemetry span for it.

What is retried (with ``retry=True``, the default):

- 429, and 403 carrying GitHub's rate-limit signals, for every method: the
  service refused the request without acting on it;
- connection failures before anything was sent (refused, DNS, connect
  timeout), for every method, for the same reason;
- 5xx (except 501/505), read timeouts and dropped connections only for
  GET/HEAD/OPTIONS, or any method called with ``idempotent=True`` (a Banano
  ``send`` with its unique ``id``, an RPC read sent as POST). A POST that
  reached the server may have acted; resending it blindly could pay twice.

A service asking for a wait longer than ``OUTBOUND_MAX_RETRY_WAIT_SECONDS``
(60) is not retried early (that would only earn another 429 and, on Discord,
count towards an IP ban): the response is returned at once with
``client.last_retry_after`` set. When the attempts run out the last response is
returned; callers classify 429 and 5xx themselves. Transport failures raise
``OutboundTimeout`` / ``OutboundConnectionError`` (``OutboundError`` with
``.permanent``), whose messages carry no secret.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import RemoteDisconnected
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from opentelemetry import trace
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
)

from integrations import ratelimit
from integrations.ratelimit import RateLimitWaitExceeded, rate_limit_status
from integrations.redaction import (
    Redactor,
    install_log_redaction,
    register_secrets,
    secret_values,
)
from integrations.validators import host_is_production

if TYPE_CHECKING:
    from integrations.models import IntegrationEndpoint

__all__ = [
    "IDEMPOTENT_METHODS",
    "OutboundClient",
    "OutboundConnectionError",
    "OutboundError",
    "OutboundRateLimitWait",
    "OutboundTimeout",
    "ProductionHostRefused",
    "get_client",
    "rate_limit_status",
    "retry_hint",
]

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
install_log_redaction()

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# 501 and 505 say "never": retrying cannot help.
_NOT_RETRIED_5XX = frozenset({501, 505})
USER_AGENT = "testenv/0.1 (live-integration tests)"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


# -- errors ---------------------------------------------------------------------


class OutboundError(Exception):
    """A call that produced no HTTP response. ``permanent`` says whether trying
    again later can help. The message names the method and the redacted URL
    and never carries a secret."""

    permanent: bool = False

    def __init__(
        self, message: str, *, permanent: bool | None = None, url: str = ""
    ) -> None:
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent
        self.url = url
        # Whether the request may have reached the service (decides retries).
        self.sent = True


class OutboundTimeout(OutboundError):
    """No answer within the timeout (requests' ConnectTimeout or ReadTimeout)."""


class OutboundConnectionError(OutboundError):
    """Connection refused, reset, dropped, or the name did not resolve."""


class ProductionHostRefused(OutboundError):
    """The URL's host is in PRODUCTION_HOSTS; nothing was sent."""

    permanent = True


class OutboundRateLimitWait(OutboundError):
    """The endpoint's shared budget had no slot within the longest wait."""


def refuse_production(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host_is_production(host):
        raise ProductionHostRefused(
            f"{host} is a production host (PRODUCTION_HOSTS): refused to call it",
            url=f"{urlsplit(url).scheme}://{host}",
        )


# -- connection pools -----------------------------------------------------------


class GuardedAdapter(HTTPAdapter):
    """The pooled transport; refuses production hosts on every hop, so a
    redirect cannot lead a call there either."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any):
        refuse_production(request.url or "")
        return super().send(request, *args, **kwargs)


@dataclass
class _EndpointPool:
    fingerprint: tuple[str, ...]
    adapter: GuardedAdapter
    credentials_token: str
    _credentials: dict[str, Any] | None = None
    _secrets: frozenset[str] | None = None

    def credentials(self) -> dict[str, Any]:
        if self._credentials is None:
            from integrations.crypto import decrypt_json

            token = self.credentials_token
            self._credentials = decrypt_json(token) if token else {}
        return self._credentials

    def secrets(self) -> frozenset[str]:
        if self._secrets is None:
            from integrations.crypto import CredentialError

            try:
                self._secrets = secret_values(self.credentials())
            except CredentialError:
                # Undecryptable credentials cannot have been sent either; the
                # error surfaces where a client reads ``credentials``.
                return frozenset()
            register_secrets(self._secrets)
        return self._secrets


_pools: dict[Any, _EndpointPool] = {}
_pools_pid = os.getpid()
_pools_lock = threading.Lock()


def _fingerprint(endpoint: IntegrationEndpoint) -> tuple[str, ...]:
    return (
        endpoint.base_url,
        endpoint.health_check_url,
        endpoint.credentials_encrypted,
    )


def _pool_for(endpoint: IntegrationEndpoint) -> _EndpointPool:
    """The endpoint's connection pool in this process, rebuilt when its URLs or
    credentials changed and after a fork (sockets must not be shared)."""
    global _pools_pid
    key = endpoint.pk if endpoint.pk is not None else f"unsaved:{endpoint.name}"
    fingerprint = _fingerprint(endpoint)
    pool = _pools.get(key)
    if (
        pool is not None
        and pool.fingerprint == fingerprint
        and _pools_pid == os.getpid()
    ):
        return pool
    with _pools_lock:
        if _pools_pid != os.getpid():
            _pools.clear()  # inherited from the parent: drop without closing
            _pools_pid = os.getpid()
        pool = _pools.get(key)
        if pool is None or pool.fingerprint != fingerprint:
            if pool is not None:
                pool.adapter.close()
            size = int(_setting("OUTBOUND_POOL_MAXSIZE", 10))
            pool = _EndpointPool(
                fingerprint=fingerprint,
                adapter=GuardedAdapter(pool_connections=4, pool_maxsize=size),
                credentials_token=endpoint.credentials_encrypted,
            )
            if pool.credentials_token:
                # Registered before the first request: urllib3 logs request
                # lines (query strings included) while sending.
                pool.secrets()
            _pools[key] = pool
        return pool


def close_pools() -> None:
    """Close every pooled connection of this process (tests, shutdown)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.adapter.close()
        _pools.clear()


# -- server wait hints ----------------------------------------------------------


def _seconds(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:  # Retry-After may be an HTTP date
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _json_body(response: requests.Response) -> Any:
    if "json" not in response.headers.get("Content-Type", "").lower():
        return None
    try:
        return jsonlib.loads(response.content or b"null")
    except ValueError:
        return None


def _github_rate_limited(response: requests.Response) -> bool:
    if response.headers.get("x-ratelimit-remaining") == "0":
        return True
    return b"secondary rate limit" in (response.content or b"")[:2048].lower()


def retry_hint(response: requests.Response) -> float | None:
    """Seconds the service asked us to wait, or None when it said nothing.

    The largest of: ``Retry-After`` (seconds or HTTP date), Discord's body
    ``retry_after``, Yunite's ``Y-RateLimit-ResetIn``, and GitHub's
    ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0. A GitHub
    secondary limit without any of them means "wait at least a minute".
    """
    headers = response.headers
    hints = [
        _seconds(headers.get("Retry-After")),
        _seconds(headers.get("Y-RateLimit-ResetIn")),
    ]
    if response.status_code == 429:
        body = _json_body(response)
        if isinstance(body, dict) and "retry_after" in body:
            with contextlib.suppress(TypeError, ValueError):
                hints.append(max(float(body["retry_after"]), 0.0))
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if reset is not None:
            hints.append(max(reset - time.time(), 0.0))
    found = [hint for hint in hints if hint is not None]
    if found:
        return max(found)
    if response.status_code in (403, 429) and _github_rate_limited(response):
        return 60.0
    return None


def _is_rate_limited(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 403 and _github_rate_limited(response)


# -- transport error classification --------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException] = [error]
    while stack and len(seen) < 20:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
        ):
            if isinstance(linked, BaseException):
                stack.append(linked)
    return seen


def _connection_failure(error: requests.ConnectionError) -> tuple[str, bool]:
    """(what happened, whether the request may have been sent)."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    causes = _causes(error)
    kinds = tuple(type(cause) for cause in causes)

    def has(*types: type) -> bool:
        return any(issubclass(kind, types) for kind in kinds)

    if has(ConnectionRefusedError):
        return "connection refused", False
    if has(NameResolutionError, socket.gaierror):
        return "host name did not resolve", False
    if has(NewConnectionError):
        return "could not connect", False
    if has(RemoteDisconnected):
        return "remote end closed the connection without an answer", True
    if has(ConnectionResetError):
        return "connection reset by the remote end", True
    return "connection failed", True


# -- the client -----------------------------------------------------------------


class OutboundClient:
    """Calls to one endpoint. Cheap to create (the connection pool is shared
    per endpoint and process); each client keeps its own cookies, so a
    workflow's login carries across its steps and never into another run."""

    def __init__(self, endpoint: IntegrationEndpoint) -> None:
        self.endpoint = endpoint
        self.exchanges: list[dict[str, Any]] = []
        self.last_retry_after: float | None = None
        self._pool = _pool_for(endpoint)
        self._session: requests.Session | None = None
        self._credentials: dict[str, Any] | None = None
        self._redactor: Redactor | None = None

    # -- state ------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, Any]:
        """The endpoint's decrypted credentials (decrypted once per process)."""
        if self._credentials is None:
            self._credentials = dict(self._pool.credentials())
        return self._credentials

    @property
    def redactor(self) -> Redactor:
        if self._redactor is None:
            self._redactor = Redactor(self._pool.secrets())
        return self._redactor

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            # Proxies and credentials come from the endpoint, never from the
            # environment or ~/.netrc (which requests would read per request).
            session.trust_env = False
            session.headers["User-Agent"] = USER_AGENT
            session.mount("http://", self._pool.adapter)
            session.mount("https://", self._pool.adapter)
            self._session = session
        return self._session

    def record(self, exchange: dict[str, Any]) -> None:
        # Bounded: a client kept across many calls must not grow without end.
        limit = int(_setting("OUTBOUND_MAX_CAPTURED_EXCHANGES", 200))
        self.exchanges.append(exchange)
        if len(self.exchanges) > limit:
            del self.exchanges[: len(self.exchanges) - limit]

    def take_exchanges(self) -> list[dict[str, Any]]:
        """Return the captured exchanges and start a new list."""
        taken, self.exchanges = self.exchanges, []
        return taken

    def redact(self, value: Any) -> Any:
        """``value`` (text or JSON-like data) with this endpoint's secrets and
        any secret seen in this client's traffic redacted."""
        if isinstance(value, str):
            return self.redactor.text(value)
        return self.redactor.data(value)

    def url(self, path: str) -> str:
        """Absolute http(s) URLs pass through; a path joins ``base_url``."""
        if path.startswith(("http://", "https://")):
            return path
        base = self.endpoint.base_url.rstrip("/")
        if not path:
            return base
        return base + (path if path.startswith("/") else "/" + path)

    # -- calls ------------------------------------------------------------------

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path_or_url, **kwargs)

    def patch(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path_or_url, **kwargs)

    def put(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path_or_url, **kwargs)

    def delete(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path_or_url, **kwargs)

    def head(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("HEAD", path_or_url, **kwargs)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        cookies: Any = None,
        timeout: float | tuple[float, float] | None = None,
        retry: bool = True,
        allow_redirects: bool = False,
        label: str = "",
        idempotent: bool | None = None,
        max_queue_wait: float | None = None,
    ) -> requests.Response:
        """Send one logical request (see the module docstring for the rules).

        ``retry=False`` makes exactly one attempt. ``idempotent`` (default:
        the method is GET/HEAD/OPTIONS) allows retrying 5xx and lost
        connections. ``max_queue_wait`` bounds the wait for a rate-limit slot
        (``OutboundRateLimitWait`` past it). Returns the last response, also
        for 4xx/5xx; raises ``OutboundError`` subclasses when there is none.
        """
        method = method.upper()
        url = self.url(path_or_url)
        refuse_production(url)
        endpoint = self.endpoint
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if timeout is None:
            timeout = endpoint.timeout_seconds
        prepared = self.session.prepare_request(
            requests.Request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=auth,
                cookies=cookies,
            )
        )
        send = _Attempts(
            self,
            prepared,
            label=label,
            timeout=timeout,
            allow_redirects=allow_redirects,
            idempotent=idempotent,
            max_queue_wait=max_queue_wait,
        )
        if not retry or endpoint.retry_attempts <= 0:
            return send()
        retrying = Retrying(
            stop=stop_after_attempt(1 + endpoint.retry_attempts),
            retry=retry_if_result(send.should_retry_response)
            | retry_if_exception(send.should_retry_error),
            wait=send.wait_seconds,
            before_sleep=send.log_retry,
            retry_error_callback=lambda state: state.outcome.result(),
        )
        return retrying(send)


class _Attempts:
    """The attempts of one ``OutboundClient.request`` call (tenacity's callee)."""

    def __init__(
        self,
        client: OutboundClient,
        prepared: requests.PreparedRequest,
        *,
        label: str,
        timeout: float | tuple[float, float],
        allow_redirects: bool,
        idempotent: bool,
        max_queue_wait: float | None,
    ) -> None:
        self.client = client
        self.prepared = prepared
        self.label = label
        self.timeout = timeout
        self.allow_redirects = allow_redirects
        self.idempotent = idempotent
        self.max_queue_wait = max_queue_wait
        self.attempt = 0
        self.hint: float | None = None
        self.max_wait = _setting("OUTBOUND_MAX_RETRY_WAIT_SECONDS", 60.0)

    # tenacity hooks -------------------------------------------------------------

    def should_retry_response(self, response: requests.Response) -> bool:
        status = response.status_code
        if _is_rate_limited(response):
            # Retrying before the service's own deadline only earns another 429.
            return self.hint is None or self.hint <= self.max_wait
        if status >= 500 and status not in _NOT_RETRIED_5XX and self.idempotent:
            return self.hint is None or self.hint <= self.max_wait
        return False

    def should_retry_error(self, error: BaseException) -> bool:
        if not isinstance(error, OutboundTimeout | OutboundConnectionError):
            return False
        return self.idempotent or not error.sent

    def wait_seconds(self, state: RetryCallState) -> float:
        base = _setting("OUTBOUND_RETRY_BACKOFF_SECONDS", 0.5)
        ceiling = _setting("OUTBOUND_RETRY_BACKOFF_MAX_SECONDS", 30.0)
        # Full jitter (AWS architecture blog): spreads retries of many clients.
        backoff = random.uniform(
            0, min(ceiling, base * 2 ** (state.attempt_number - 1))
        )
        return min(max(backoff, self.hint or 0.0), self.max_wait)

    def log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        if outcome is None:
            return
        reason = (
            type(outcome.exception()).__name__
            if outcome.failed
            else f"HTTP {outcome.result().status_code}"
        )
        logger.info(
            "retrying %s %s after %s in %.2f s (attempt %d of %d)",
            self.prepared.method,
            self.client.redactor.url(self.prepared.url or ""),
            reason,
            state.next_action.sleep if state.next_action else 0.0,
            state.attempt_number + 1,
            1 + self.client.endpoint.retry_attempts,
        )

    # one attempt ----------------------------------------------------------------

    def __call__(self) -> requests.Response:
        self.attempt += 1
        self.hint = None
        client, endpoint = self.client, self.client.endpoint
        try:
            ratelimit.acquire(endpoint, max_wait=self.max_queue_wait)
        except RateLimitWaitExceeded as error:
            raise OutboundRateLimitWait(str(error), permanent=False) from None
        request = self.prepared.copy()
        method = request.method or ""
        with tracer.start_as_current_span(
            f"HTTP {method}", kind=trace.SpanKind.CLIENT
        ) as span:
            started = time.perf_counter()
            error: OutboundError | None = None
            response: requests.Response | None = None
            try:
                response = client.session.send(
                    request, timeout=self.timeout, allow_redirects=self.allow_redirects
                )
            except ProductionHostRefused as refused:  # a redirect hop
                error = refused
            except requests.RequestException as failure:
                error = self._transport_error(method, request.url or "", failure)
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            if response is not None and _is_rate_limited(response):
                self.hint = retry_hint(response)
                client.last_retry_after = self.hint
                ratelimit.record_rate_limited(endpoint, self.hint)
            elif response is not None and response.status_code >= 500:
                self.hint = _seconds(response.headers.get("Retry-After"))
            exchange = self._capture(request, response, elapsed_ms, error)
            client.record(exchange)
            if span.is_recording():
                span.set_attribute("http.request.method", method)
                span.set_attribute("url.full", exchange["url"])
                span.set_attribute("testenv.endpoint", endpoint.name)
                span.set_attribute("testenv.attempt", self.attempt)
                if response is not None:
                    span.set_attribute(
                        "http.response.status_code", response.status_code
                    )
                if error is not None:
                    span.set_attribute("error.type", type(error).__name__)
        if error is not None:
            logger.debug("%s", error)
            raise error
        assert response is not None
        logger.debug(
            "%s %s -> %s in %d ms",
            method,
            exchange["url"],
            response.status_code,
            elapsed_ms,
        )
        return response

    def _transport_error(
        self, method: str, url: str, failure: requests.RequestException
    ) -> OutboundError:
        """The OutboundError for a failed send; its message names no secret
        (the exception's own text may hold the URL with its query)."""
        safe_url = self.client.redactor.url(url)
        where = f"{method} {safe_url}"
        error: OutboundError
        if isinstance(failure, requests.Timeout):
            error = OutboundTimeout(
                f"{where} timed out after {self._timeout_text()} s", url=safe_url
            )
            error.sent = not isinstance(failure, requests.ConnectTimeout)
        elif isinstance(failure, requests.exceptions.SSLError):
            error = OutboundConnectionError(
                f"{where}: TLS handshake or certificate verification failed",
                permanent=True,
                url=safe_url,
            )
            error.sent = False
        elif isinstance(failure, requests.ConnectionError):
            what, sent = _connection_failure(failure)
            error = OutboundConnectionError(f"{where}: {what}", url=safe_url)
            error.sent = sent
        else:  # invalid URL, too many redirects, ...
            error = OutboundError(
                f"{where}: {type(failure).__name__}", permanent=True, url=safe_url
            )
            error.sent = False
        return error

    def _timeout_text(self) -> str:
        if isinstance(self.timeout, tuple):
            return "/".join(f"{part:g}" for part in self.timeout)
        return f"{self.timeout:g}"

    def _capture(
        self,
        request: requests.PreparedRequest,
        response: requests.Response | None,
        elapsed_ms: int,
        error: OutboundError | None,
    ) -> dict[str, Any]:
        redactor = self.client.redactor
        limit = int(_setting("OUTBOUND_CAPTURE_BODY_LIMIT", 4096))
        exchange: dict[str, Any] = {
            "label": self.label,
            "method": request.method,
            "url": redactor.url(request.url or ""),
            "attempt": self.attempt,
            "at": datetime.now(UTC).isoformat(),
            "status": None,
            "elapsed_ms": elapsed_ms,
            "request_headers": redactor.headers(request.headers),
            "request_body": redactor.body(
                request.body, request.headers.get("Content-Type", ""), limit
            ),
            "response_headers": None,
            "response_body": None,
            "error": str(error) if error is not None else None,
        }
        if response is not None:
            exchange["status"] = response.status_code
            exchange["response_headers"] = redactor.headers(response.headers)
            exchange["response_body"] = redactor.body(
                response.content, response.headers.get("Content-Type", ""), limit
            )
        return exchange


def get_client(endpoint: IntegrationEndpoint) -> OutboundClient:
    """A client for ``endpoint`` (its connection pool is reused)."""
    return OutboundClient(endpoint)
