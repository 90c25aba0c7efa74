"""Yunite health check: ``GET /v3/app`` and our guild's authorization.

HEALTHY   200, the body has the app-info shape, and ``settings.guild_id`` is
          listed with ``READ_REGISTRATION`` (the permission the link lookups need).
DEGRADED  the guild is missing or lacks ``READ_REGISTRATION``; a 429; or the
          answer was slower than ``latency_threshold_ms``.
UNHEALTHY 401 (bad token), 402 (guild has no Premium), 403 (not authorized),
          any other non-2xx, a wrong body shape, a refused connection, or no
          token / guild configured.
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
from integrations.kinds.yunite.client import (
    MissingCredentials,
    YuniteClient,
    rate_limit_headers,
)
from integrations.kinds.yunite.schemas import (
    READ_REGISTRATION,
    YuniteAppInfo,
    YuniteError,
)

STATUS_REASONS = {
    400: "bad request (malformed request or unknown guild)",
    401: "the API token was refused (401)",
    402: "the guild has no active Yunite Premium (402)",
    403: "the token is not authorized for this guild or resource (403)",
    404: "route not found (404): check base_url",
}


def _json(response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


@register_probe
class YuniteProbe(Probe):
    kind = "yunite"

    def check(self) -> ProbeResult:
        guild_id = str((self.endpoint.settings or {}).get("guild_id") or "")
        metadata: dict = {"guild_id": guild_id}
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        if not guild_id:
            return ProbeResult(
                UNHEALTHY,
                error_message="settings.guild_id is not set",
                metadata=metadata,
            )
        try:
            # One attempt: a health check reports a 429 as DEGRADED instead of
            # waiting it out.
            response = YuniteClient(self.http).app_info(retry=False)
        except MissingCredentials as exc:
            return ProbeResult(UNHEALTHY, error_message=str(exc), metadata=metadata)
        except OutboundTimeout as exc:
            return ProbeResult(
                TIMEOUT, elapsed(), error_message=str(exc), metadata=metadata
            )
        except OutboundRateLimitWait as exc:
            # Our own shared budget is spent: the service was not asked.
            return ProbeResult(
                DEGRADED, elapsed(), error_message=str(exc), metadata=metadata
            )
        except OutboundError as exc:
            return ProbeResult(
                UNHEALTHY, elapsed(), error_message=str(exc), metadata=metadata
            )
        took = elapsed()
        code = response.status_code
        metadata["rate_limit"] = rate_limit_headers(response)
        body = _json(response)

        def result(status: str, message: str = "") -> ProbeResult:
            return ProbeResult(status, took, code, message, metadata)

        if code == 429:
            reset_in = metadata["rate_limit"].get("Y-RateLimit-ResetIn")
            suffix = f"; resets in {reset_in} s" if reset_in else ""
            return result(DEGRADED, f"rate limited (429){suffix}")
        if not 200 <= code < 300:
            error, _ = parse_shape(YuniteError, body)
            detail = error.describe() if error else ""
            reason = STATUS_REASONS.get(code, f"HTTP {code}")
            return result(UNHEALTHY, f"{reason}: {detail}" if detail else reason)
        if body is None:
            return result(UNHEALTHY, "response format: body is not JSON")
        info, problem = parse_shape(YuniteAppInfo, body)
        if info is None:
            return result(UNHEALTHY, f"response format: {problem}")
        metadata["app_id"] = info.app.id
        metadata["app_name"] = info.app.name
        metadata["authorized_guilds"] = len(info.authorizedGuilds)
        guild = info.guild(guild_id)
        if guild is None:
            return result(DEGRADED, f"guild {guild_id} has not authorized the app")
        metadata["permissions"] = list(guild.permissions)
        if READ_REGISTRATION not in guild.permissions:
            return result(
                DEGRADED, f"guild {guild_id} did not grant {READ_REGISTRATION}"
            )
        threshold = self.endpoint.latency_threshold_ms
        if threshold and took > threshold:
            return result(DEGRADED, f"slow: {took} ms > threshold {threshold} ms")
        return result(HEALTHY)
