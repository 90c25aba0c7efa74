"""GitHub health check: ``GET /rate_limit`` and ``GET /repos/{owner}/{repo}``.

HEALTHY   the core budget has requests left and the repository has issues on.
DEGRADED  the budget is spent (remaining 0), a 429 or rate-limit 403, or the
          answers were slower than ``latency_threshold_ms``.
UNHEALTHY bad credentials (401), the repository is missing or invisible (404),
          issues are disabled (410 or ``has_issues`` false), any other error
          answer, a refused connection, or no token / repository configured.
TIMEOUT   no answer within the endpoint's timeout.

The endpoint's ``base_url`` is the REST base (``https://api.github.com``, a
GitHub Enterprise ``https://host/api/v3`` or the simulator's ``{url}/github``);
the token is the credential ``token`` (else ``settings.GITHUB_TOKEN``) and the
repository ``settings.repo`` (else ``settings.GITHUB_REPO``). The calls go
through PyGithub like the rest of the GitHub integration (see ``client.py``),
not through the shared outbound layer; ``GET /rate_limit`` costs no budget.
"""

from __future__ import annotations

import time

from django.conf import settings

from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    Probe,
    ProbeResult,
    register_probe,
)
from integrations.kinds.github.client import GitHubClient, GitHubError

STATUS_REASONS = {
    401: "the token was refused (401 Bad credentials)",
    403: "the token may not read this repository (403)",
    404: "the repository does not exist or is not visible to the token (404)",
    410: "issues are disabled on the repository (410)",
}


def _elapsed_ms(started: float) -> int:
    return max(0, int((time.monotonic() - started) * 1000))


@register_probe
class GitHubProbe(Probe):
    kind = "github"

    def _config(self) -> tuple[str, str]:
        try:
            credentials = self.endpoint.get_credentials()
        except Exception:  # undecryptable: reported as missing below.
            credentials = {}
        token = str(credentials.get("token") or settings.GITHUB_TOKEN or "")
        repo = str(
            (self.endpoint.settings or {}).get("repo") or settings.GITHUB_REPO or ""
        )
        return token, repo

    def check(self) -> ProbeResult:
        token, repo = self._config()
        if not token or not repo:
            return ProbeResult(
                UNHEALTHY,
                error_message="no GitHub token or repository configured",
            )
        started = time.monotonic()
        metadata: dict = {"repo": repo}
        try:
            client = GitHubClient(
                self.endpoint.base_url,
                token,
                repo,
                timeout=self.endpoint.timeout_seconds,
                seconds_between_requests=0,
                seconds_between_writes=0,
            )
        except GitHubError as exc:
            return ProbeResult(UNHEALTHY, error_message=str(exc))
        try:
            with client:
                budget = client.rate_limit()
                metadata["rate_limit"] = budget
                repository = client.repository()
        except GitHubError as exc:
            return self._failure(exc, started, metadata)
        elapsed = _elapsed_ms(started)
        metadata["has_issues"] = bool(repository.get("has_issues"))
        if not repository.get("has_issues"):
            return ProbeResult(
                UNHEALTHY,
                elapsed,
                200,
                "issues are disabled on the repository (has_issues false)",
                metadata,
            )
        remaining = budget.get("remaining")
        if remaining is not None and remaining <= 0:
            return ProbeResult(
                DEGRADED,
                elapsed,
                200,
                f"rate limit budget spent; resets at {budget.get('reset')}",
                metadata,
            )
        threshold = self.endpoint.latency_threshold_ms
        if threshold and elapsed > threshold:
            return ProbeResult(
                DEGRADED,
                elapsed,
                200,
                f"answered in {elapsed} ms, over the {threshold} ms threshold",
                metadata,
            )
        return ProbeResult(HEALTHY, elapsed, 200, "", metadata)

    def _failure(self, exc: GitHubError, started: float, metadata: dict) -> ProbeResult:
        elapsed = _elapsed_ms(started)
        if exc.timed_out:
            return ProbeResult(TIMEOUT, elapsed, None, str(exc), metadata)
        if exc.rate_limited:
            if exc.retry_after is not None:
                metadata["retry_after"] = exc.retry_after
            return ProbeResult(DEGRADED, elapsed, exc.status, str(exc), metadata)
        reason = STATUS_REASONS.get(exc.status or 0)
        message = f"{reason}: {exc}" if reason else str(exc)
        return ProbeResult(UNHEALTHY, elapsed, exc.status, message, metadata)
