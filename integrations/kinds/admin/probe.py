"""Pay2Slay admin health check: ``/healthz``, then a fixture admin's login and
``GET /admin/health/extended``.

HEALTHY   ``/healthz`` says ``status: ok``; the fixture admin
          (``credentials.admin_email``) logs in and gets the ``p2s_admin``
          cookie; ``/admin/health/extended`` answers 200 with a JSON object.
          Without an ``admin_email`` only ``/healthz`` is checked (recorded in
          the metadata as ``admin_login: "not configured"``).
DEGRADED  a 429 from the app's rate limiter; ``/admin/health/extended``
          reporting a ``status`` other than ``ok``; slower than
          ``latency_threshold_ms`` (all steps together).
UNHEALTHY ``/healthz`` not ok; a 401 for the fixture admin (the admin table or
          the session secret is broken); any other non-2xx; a wrong body shape;
          a refused connection.
TIMEOUT   no answer within the endpoint's timeout.

Every login writes an ``admin_login`` audit row in Pay2Slay, as a human
login would.
"""

from __future__ import annotations

import time
from typing import Any

from integrations.http import OutboundError, OutboundRateLimitWait, OutboundTimeout
from integrations.kinds.admin.client import P2SAdminClient
from integrations.kinds.admin.schemas import (
    AdminLogin,
    DetailError,
    HealthExtended,
    Healthz,
)
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    Probe,
    ProbeResult,
    parse_shape,
    register_probe,
)


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class _Outcome(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _classify(response, step: str, metadata: dict) -> Any:
    """Return the JSON body of a 2xx ``response``, else raise an ``_Outcome``."""
    code = response.status_code
    body = _json(response)
    if 200 <= code < 300:
        return body
    if code == 429:
        retry_after = response.headers.get("Retry-After")
        metadata["retry_after"] = retry_after
        suffix = f", retry after {retry_after} s" if retry_after else ""
        raise _Outcome(DEGRADED, f"{step}: rate limited (429){suffix}")
    error, _ = parse_shape(DetailError, body)
    detail = f": {error.describe()}" if error else ""
    raise _Outcome(UNHEALTHY, f"{step}: HTTP {code}{detail}")


@register_probe
class AdminProbe(Probe):
    kind = "admin"

    def check(self) -> ProbeResult:
        metadata: dict[str, Any] = {}
        started = time.monotonic()
        code: int | None = None
        client = P2SAdminClient(self.http)

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            # One attempt per step: a health check reports a 429 as DEGRADED
            # instead of waiting it out.
            response = client.healthz(retry=False)
            code = response.status_code
            health, problem = parse_shape(
                Healthz, _classify(response, "/healthz", metadata)
            )
            if health is None:
                raise _Outcome(UNHEALTHY, f"response format of /healthz: {problem}")
            metadata["healthz"] = health.status
            if health.status != "ok":
                raise _Outcome(UNHEALTHY, f"/healthz says status {health.status!r}")

            email = (self.http.credentials or {}).get("admin_email")
            if not email:
                metadata["admin_login"] = "not configured"
            else:
                login = client.login(email, retry=False)
                code = login.status_code
                if code == 401:
                    raise _Outcome(
                        UNHEALTHY,
                        "the fixture admin (credentials.admin_email) was "
                        "refused (401): the admin table or the session secret "
                        "is broken",
                    )
                body = _classify(login.response, "/admin/login", metadata)
                admin, problem = parse_shape(AdminLogin, body)
                if admin is None:
                    raise _Outcome(
                        UNHEALTHY, f"response format of /admin/login: {problem}"
                    )
                if not login.cookie:
                    raise _Outcome(UNHEALTHY, "/admin/login set no p2s_admin cookie")
                metadata["admin_login"] = "ok"
                extended = client.health_extended(login.cookie, retry=False)
                code = extended.status_code
                body = _classify(extended, "/admin/health/extended", metadata)
                report, problem = parse_shape(HealthExtended, body)
                if report is None:
                    raise _Outcome(
                        UNHEALTHY,
                        f"response format of /admin/health/extended: {problem}",
                    )
                metadata["health_extended"] = report.status
                if report.status not in (None, "ok"):
                    raise _Outcome(
                        DEGRADED,
                        f"/admin/health/extended says status {report.status!r}",
                    )
        except OutboundTimeout as exc:
            return ProbeResult(TIMEOUT, elapsed(), code, str(exc), metadata)
        except OutboundRateLimitWait as exc:
            return ProbeResult(DEGRADED, elapsed(), code, str(exc), metadata)
        except OutboundError as exc:
            return ProbeResult(UNHEALTHY, elapsed(), code, str(exc), metadata)
        except _Outcome as outcome:
            return ProbeResult(
                outcome.status, elapsed(), code, outcome.message, metadata
            )
        took = elapsed()
        threshold = self.endpoint.latency_threshold_ms
        if threshold and took > threshold:
            message = f"slow: {took} ms > threshold {threshold} ms"
            return ProbeResult(DEGRADED, took, code, message, metadata)
        return ProbeResult(HEALTHY, took, code, "", metadata)
