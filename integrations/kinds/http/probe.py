"""Health check of the generic "http" kind: the reference probe.

GET the check URL once (no retries: a health check reports what it sees, and
the scheduler runs the next one soon enough). 2xx → HEALTHY, or DEGRADED when
slower than ``latency_threshold_ms``; 429 → DEGRADED; any other status and
connection failures → UNHEALTHY; no answer within ``timeout_seconds`` →
TIMEOUT. Kept cheap: the connection pool is shared, nothing is parsed.
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
    register_probe,
)


@register_probe
class HttpProbe(Probe):
    kind = "http"

    def check(self) -> ProbeResult:
        endpoint = self.endpoint
        started = time.perf_counter()
        try:
            response = self.http.get(
                endpoint.check_url,
                retry=False,
                label="health",
                # Never queue behind workflow traffic longer than a check may take.
                max_queue_wait=float(endpoint.timeout_seconds),
            )
        except OutboundTimeout as error:
            return ProbeResult(
                TIMEOUT, self._response_ms(started), error_message=str(error)
            )
        except OutboundRateLimitWait as error:
            return ProbeResult(
                DEGRADED,
                _elapsed_ms(started),
                error_message=str(error),
                metadata={"rate_limited": "local budget"},
            )
        except OutboundError as error:
            return ProbeResult(
                UNHEALTHY, self._response_ms(started), error_message=str(error)
            )
        elapsed_ms = self._response_ms(started)
        code = response.status_code
        if 200 <= code < 300:
            threshold = endpoint.latency_threshold_ms
            if threshold is not None and elapsed_ms > threshold:
                return ProbeResult(
                    DEGRADED,
                    elapsed_ms,
                    code,
                    f"answered in {elapsed_ms} ms, over the {threshold} ms threshold",
                )
            return ProbeResult(HEALTHY, elapsed_ms, code)
        if code == 429:
            metadata = {}
            if self.http.last_retry_after is not None:
                metadata["retry_after"] = self.http.last_retry_after
            return ProbeResult(DEGRADED, elapsed_ms, code, "rate limited", metadata)
        return ProbeResult(
            UNHEALTHY, elapsed_ms, code, f"HTTP {code} {response.reason or ''}".strip()
        )

    def _response_ms(self, started: float) -> int:
        # The exchange's own timing excludes any wait for a rate-limit slot.
        exchanges = self.http.exchanges
        if exchanges:
            return int(exchanges[-1]["elapsed_ms"])
        return _elapsed_ms(started)


def _elapsed_ms(started: float) -> int:
    return max(round((time.perf_counter() - started) * 1000), 0)
