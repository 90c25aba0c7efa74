"""Discord health check, no user needed: a client-credentials grant, then
``GET /oauth2/@me`` with the application's own token.

HEALTHY   the grant returns a Bearer token and ``/oauth2/@me`` names our
          application (``application.id == client_id``).
DEGRADED  a 429 (``retry_after`` is recorded), or slower than
          ``latency_threshold_ms``.
UNHEALTHY 401 ``invalid_client`` (wrong id/secret), any other non-2xx, a body of
          the wrong shape, a token for another application, a refused
          connection, or no credentials configured.
TIMEOUT   no answer within the endpoint's timeout.
"""

from __future__ import annotations

import time

from integrations.http import OutboundError, OutboundRateLimitWait, OutboundTimeout
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
from integrations.kinds.discord.client import (
    DiscordClient,
    MissingCredentials,
    rate_limit_headers,
)
from integrations.kinds.discord.schemas import (
    AuthorizationInfo,
    RateLimited,
    TokenResponse,
    error_text,
)


def _json(response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


class _Outcome(Exception):
    """Ends the check early with a result."""

    def __init__(self, status: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@register_probe
class DiscordProbe(Probe):
    kind = "discord"

    def check(self) -> ProbeResult:
        metadata: dict = {}
        started = time.monotonic()
        code: int | None = None

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            client = DiscordClient(self.http)
            client_id = client.client_id
            # One attempt each: a health check reports a 429 as DEGRADED
            # instead of waiting it out.
            grant = client.client_credentials("identify", retry=False)
            code = grant.status_code
            self._classify(grant, "client-credentials grant", metadata)
            token, problem = parse_shape(TokenResponse, _json(grant))
            if token is None:
                raise _Outcome(UNHEALTHY, f"response format of token: {problem}")
            metadata["token_scope"] = token.scope
            me = client.oauth2_me(token.access_token, retry=False)
            code = me.status_code
            self._classify(me, "oauth2/@me", metadata)
            info, problem = parse_shape(AuthorizationInfo, _json(me))
            if info is None:
                raise _Outcome(UNHEALTHY, f"response format of oauth2/@me: {problem}")
            # The client id is a credential (redacted everywhere), so the
            # metadata says whether it matched rather than repeating it.
            metadata["application_name"] = info.application.name
            metadata["application_matches_client_id"] = info.application.id == client_id
            if info.application.id != client_id:
                raise _Outcome(
                    UNHEALTHY,
                    f"token belongs to application {info.application.id}, "
                    "not to the configured client_id",
                )
        except MissingCredentials as exc:
            return ProbeResult(UNHEALTHY, error_message=str(exc), metadata=metadata)
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
            return ProbeResult(
                DEGRADED,
                took,
                code,
                f"slow: {took} ms > threshold {threshold} ms",
                metadata,
            )
        return ProbeResult(HEALTHY, took, code, "", metadata)

    @staticmethod
    def _classify(response, step: str, metadata: dict) -> None:
        """Raise an ``_Outcome`` unless ``response`` is a 2xx."""
        code = response.status_code
        headers = rate_limit_headers(response)
        if headers:
            metadata["rate_limit"] = headers
        if 200 <= code < 300:
            return
        body = _json(response)
        if code == 429:
            limited, _ = parse_shape(RateLimited, body)
            retry_after = (
                limited.retry_after if limited else headers.get("Retry-After", "?")
            )
            metadata["retry_after"] = retry_after
            raise _Outcome(
                DEGRADED, f"{step}: rate limited (429), retry after {retry_after} s"
            )
        detail = error_text(body)
        if (
            code == 401
            and isinstance(body, dict)
            and body.get("error") == "invalid_client"
        ):
            raise _Outcome(
                UNHEALTHY, f"{step}: client id/secret refused (401 invalid_client)"
            )
        suffix = f": {detail}" if detail else ""
        raise _Outcome(UNHEALTHY, f"{step}: HTTP {code}{suffix}")
