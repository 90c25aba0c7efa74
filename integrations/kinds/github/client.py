"""GitHub REST client for issues, through PyGithub (PROTOCOLS.md section 6).

Why PyGithub and not ``integrations.http``: the stack mandates PyGithub for
GitHub. What the shared outbound layer would give us is rebuilt here where it
matters: a timeout on every call, and errors translated into ``GitHubError``
that says whether a retry can help and how long to wait (``Retry-After``, else
``x-ratelimit-reset``).

Retries are deliberately NOT done here. PyGithub's default retry resends a
POST after a 5xx or a timeout with no backoff, and GitHub may already have
created the issue: that files duplicates (TRAPS.md). The client is built with
``retry=None`` and every call is made once; the caller (``feedback.services``)
owns the retry policy and looks for the issue's hidden marker before creating
again.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

logger = logging.getLogger(__name__)


def _pygithub() -> Any:
    """PyGithub, imported on first use: it and its dependencies weigh about
    20 MB in every process (web, worker, beat) that would import it at start
    but, most of the time, never files an issue."""
    import github
    import github.GithubObject

    return github


def _call_errors() -> tuple[type[BaseException], ...]:
    """What a PyGithub call raises when GitHub or the network fails."""
    return (_pygithub().GithubException, requests.exceptions.RequestException)


DEFAULT_TIMEOUT_SECONDS = 15
# Status codes where GitHub (or a proxy in front of it) may succeed later.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# GitHub asks for at least a minute after a secondary rate limit without a
# Retry-After header (PROTOCOLS.md section 6).
SECONDARY_RATE_LIMIT_WAIT_SECONDS = 60.0


class GitHubError(Exception):
    """A GitHub call failed.

    ``transient``: a later retry may succeed (5xx, 429, rate limits, timeouts,
    refused connections). ``ambiguous``: the request may have taken effect
    although we got no success answer (a timeout or 5xx on a POST), so a retry
    must first look for what it would create. ``retry_after``: seconds GitHub
    asked us to wait (``Retry-After``, else until ``x-ratelimit-reset`` when the
    budget is spent), or None. ``timed_out``: no answer within the timeout.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        ambiguous: bool = False,
        rate_limited: bool = False,
        secondary_rate_limit: bool = False,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.status = status
        self.transient = transient
        self.ambiguous = ambiguous
        self.rate_limited = rate_limited
        self.secondary_rate_limit = secondary_rate_limit
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        return not self.transient


class GitHubNotConfigured(GitHubError):
    """No token or repository: the GitHub sync is disabled."""


@dataclass(frozen=True)
class IssueRef:
    """The parts of an issue that testenv keeps."""

    number: int
    html_url: str
    state: str
    state_reason: str | None = None
    title: str = ""
    body: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def wait_hint(
    headers: Mapping[str, Any] | None, *, now: float | None = None
) -> float | None:
    """How long GitHub asks us to wait: ``retry-after`` first, else until
    ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0 (or absent)."""
    retry_after = parse_retry_after(_header(headers, "retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    reset = _header(headers, "x-ratelimit-reset")
    remaining = _header(headers, "x-ratelimit-remaining")
    if reset and (remaining is None or remaining.strip() == "0"):
        try:
            # +1: the reset instant is only known to the second.
            return max(0.0, float(reset) - (time.time() if now is None else now) + 1)
        except ValueError:
            return None
    return None


def _message_of(data: Any) -> str:
    if isinstance(data, Mapping):
        return str(data.get("message") or "")
    return str(data or "")


def translate(exc: BaseException, *, method: str = "GET") -> GitHubError:
    """Turn what PyGithub or requests raised into a ``GitHubError``."""
    write = method.upper() != "GET"
    if isinstance(exc, GitHubError):
        return exc
    if isinstance(exc, _pygithub().GithubException):
        status = exc.status
        headers = exc.headers or {}
        message = _message_of(exc.data) or str(exc)
        lowered = message.lower()
        hint = wait_hint(headers)
        remaining = _header(headers, "x-ratelimit-remaining")
        secondary = "secondary rate limit" in lowered or lowered.endswith(
            ("please retry your request again later.", "wait a few minutes")
        )
        rate_limited = status == 429 or (
            status == 403
            and (
                secondary
                or "rate limit" in lowered
                or _header(headers, "retry-after") is not None
                or (remaining is not None and remaining.strip() == "0")
            )
        )
        if rate_limited:
            return GitHubError(
                f"GitHub rate limit ({status}): {message}",
                status=status,
                transient=True,
                rate_limited=True,
                secondary_rate_limit=secondary,
                retry_after=hint,
            )
        transient = status in TRANSIENT_STATUSES or 500 <= status <= 599
        return GitHubError(
            f"GitHub answered {status}: {message}",
            status=status,
            transient=transient,
            ambiguous=transient and write,
            retry_after=hint if transient else None,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return GitHubError(
            f"GitHub did not answer in time: {exc}",
            transient=True,
            ambiguous=write,
            timed_out=True,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        # A refused connection never reached GitHub; a reset after sending
        # might have. Both are retried; only writes are ambiguous.
        return GitHubError(
            f"GitHub unreachable: {exc}", transient=True, ambiguous=write
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return GitHubError(
            f"GitHub request failed: {exc}", transient=True, ambiguous=write
        )
    return GitHubError(
        f"GitHub call failed: {exc.__class__.__name__}: {exc}",
        transient=True,
        ambiguous=write,
    )


class GitHubClient:
    """Issues of one repository, each call made exactly once.

    ``api_url`` is the REST base (``https://api.github.com``, a GitHub
    Enterprise ``https://host/api/v3``, or the simulator's ``{url}/github``).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        repo: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
        user_agent: str = "testenv-feedback",
    ) -> None:
        if not token or not repo:
            raise GitHubNotConfigured("GitHub token and repository are required")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise GitHubError(f"GitHub repository {repo!r} is not owner/name")
        self.api_url = api_url.rstrip("/")
        self.repo_name = repo
        self._github = _pygithub().Github(
            base_url=self.api_url,
            auth=_pygithub().Auth.Token(token),
            timeout=int(max(1, round(timeout))),
            user_agent=user_agent,
            # Each call once; our caller retries (see the module docstring).
            retry=None,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
            lazy=True,
        )
        # lazy (set on Github above): no GET /repos/{o}/{r} before each call.
        self._repo = self._github.get_repo(repo)
        self._login: str | None = None

    def close(self) -> None:
        self._github.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------

    def authenticated_login(self) -> str | None:
        """The login of the token's user, or None when the token has none
        (an app installation token cannot read ``/user``)."""
        if self._login is None:
            try:
                _, data = self._github.requester.requestJsonAndCheck("GET", "/user")
            except _pygithub().GithubException as exc:
                if exc.status in (401, 403, 404):
                    return None
                raise translate(exc) from exc
            except requests.exceptions.RequestException as exc:
                raise translate(exc) from exc
            self._login = str((data or {}).get("login") or "") or None
        return self._login

    def _list_issues(
        self, params: dict[str, Any], *, limit: int
    ) -> Iterator[dict[str, Any]]:
        """Raw issue JSON from ``GET /repos/{o}/{r}/issues``, page by page.

        Raw JSON rather than PyGithub's lazy ``Issue`` objects: reading an
        attribute absent from a list item (``pull_request`` on a plain issue)
        makes PyGithub fetch the whole issue again, one GET per issue.
        """
        per_page = 100
        page = 1
        seen = 0
        while seen < limit:
            try:
                _, data = self._github.requester.requestJsonAndCheck(
                    "GET",
                    f"{self._repo.url}/issues",
                    parameters={**params, "per_page": per_page, "page": page},
                )
            except _call_errors() as exc:
                raise translate(exc) from exc
            items = data if isinstance(data, list) else []
            for item in items:
                seen += 1
                yield item
                if seen >= limit:
                    return
            if len(items) < per_page:
                return
            page += 1

    def _creator_params(self, since: datetime, sort: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "state": "all",
            "sort": sort,
            "direction": "desc",
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        login = self.authenticated_login()
        if login:
            params["creator"] = login
        return params

    def find_issue_with_marker(
        self, marker: str, *, since: datetime, scan_limit: int = 300
    ) -> IssueRef | None:
        """The newest issue (not pull request) whose body contains ``marker``.

        Lists the repository's issues created by the token's user
        (``state=all``, newest first, updated since ``since``). The search API
        is not used: its index lags behind creation by seconds to minutes,
        exactly the window in which a retry looks. Stops after ``scan_limit``
        issues or at the first one created before ``since``.
        """
        params = self._creator_params(since, "created")
        for item in self._list_issues(params, limit=scan_limit):
            if item.get("pull_request"):
                continue
            if marker in str(item.get("body") or ""):
                return issue_ref_from_json(item)
            created = _parse_time(item.get("created_at"))
            if created is not None and created < since:
                break
        return None

    def search_issue_with_marker(self, marker: str, phrase: str) -> IssueRef | None:
        """The first issue of the repository, by the token's user, whose body
        contains ``marker``, through the search API (``phrase``: a distinctive
        part of the marker to search for). Only for markers old enough to be
        indexed: the index lags behind creation."""
        query = f'repo:{self.repo_name} is:issue in:body "{phrase}"'
        login = self.authenticated_login()
        if login:
            query += f" author:{login}"
        try:
            _, data = self._github.requester.requestJsonAndCheck(
                "GET", "/search/issues", parameters={"q": query, "per_page": 20}
            )
        except _call_errors() as exc:
            raise translate(exc) from exc
        for item in (data or {}).get("items") or []:
            if not item.get("pull_request") and marker in str(item.get("body") or ""):
                return issue_ref_from_json(item)
        return None

    def get_issue(self, number: int) -> IssueRef:
        try:
            _, data = self._github.requester.requestJsonAndCheck(
                "GET", f"{self._repo.url}/issues/{int(number)}"
            )
        except _call_errors() as exc:
            raise translate(exc) from exc
        return issue_ref_from_json(data or {})

    def issues_updated_since(
        self, since: datetime, *, limit: int = 500
    ) -> Iterator[IssueRef]:
        """Issues (not pull requests) created by the token's user and updated
        since ``since``, most recently updated first."""
        params = self._creator_params(since, "updated")
        for item in self._list_issues(params, limit=limit):
            if not item.get("pull_request"):
                yield issue_ref_from_json(item)

    def rate_limit(self) -> dict[str, int | None]:
        """``GET /rate_limit`` (free of charge): core ``remaining``, ``limit``,
        ``reset``."""
        try:
            headers, data = self._github.requester.requestJsonAndCheck(
                "GET", "/rate_limit"
            )
        except _call_errors() as exc:
            raise translate(exc) from exc
        data = data or {}
        core = (data.get("resources") or {}).get("core") or data.get("rate") or {}

        def number(value: Any) -> int | None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None

        return {
            "remaining": number(core.get("remaining")),
            "limit": number(core.get("limit")),
            "reset": number(core.get("reset")),
        }

    def repository(self) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}`` as JSON."""
        try:
            _, data = self._github.requester.requestJsonAndCheck("GET", self._repo.url)
        except _call_errors() as exc:
            raise translate(exc) from exc
        return dict(data or {})

    # -- writes ------------------------------------------------------------

    def ensure_labels(self, labels: Mapping[str, str]) -> list[str]:
        """Create the labels (name → hex colour) the repository lacks; return
        the names created. One GET of the label list, one POST per missing
        label; a label created meanwhile by someone else (422) is fine."""
        try:
            existing = {label.name.lower() for label in self._repo.get_labels()}
        except _call_errors() as exc:
            raise translate(exc) from exc
        created = []
        for name, color in labels.items():
            if name.lower() in existing:
                continue
            try:
                self._repo.create_label(name, color)
            except _pygithub().GithubException as exc:
                if exc.status == 422:  # already_exists: a concurrent creation.
                    continue
                raise translate(exc, method="POST") from exc
            except requests.exceptions.RequestException as exc:
                raise translate(exc, method="POST") from exc
            created.append(name)
        return created

    def update_issue_body(self, number: int, body: str) -> IssueRef:
        """``PATCH /repos/{o}/{r}/issues/{number}`` with a new body, once.
        Idempotent, so a retry after any failure is safe."""
        try:
            _, data = self._github.requester.requestJsonAndCheck(
                "PATCH",
                f"{self._repo.url}/issues/{int(number)}",
                input={"body": body},
            )
        except _call_errors() as exc:
            raise translate(exc, method="PATCH") from exc
        return issue_ref_from_json(data or {})

    def create_issue(
        self, title: str, body: str, labels: list[str] | None = None
    ) -> IssueRef:
        """Send ``POST /repos/{o}/{r}/issues`` exactly once.

        Raises ``GitHubError``; when it is ``ambiguous`` the issue may exist
        anyway, and the caller must look for its marker before creating again.
        """
        try:
            issue = self._repo.create_issue(
                title=title,
                body=body,
                labels=list(labels) if labels else _pygithub().GithubObject.NotSet,
            )
        except _call_errors() as exc:
            raise translate(exc, method="POST") from exc
        # Completed from the POST answer: reading it makes no further call.
        return issue_ref_from_json(issue.raw_data)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def issue_ref_from_json(data: Mapping[str, Any]) -> IssueRef:
    """An ``IssueRef`` from an issue's REST JSON (API answers, webhook payloads)."""
    return IssueRef(
        number=int(data.get("number") or 0),
        html_url=str(data.get("html_url") or ""),
        state=str(data.get("state") or ""),
        state_reason=data.get("state_reason"),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        created_at=_parse_time(data.get("created_at")),
        updated_at=_parse_time(data.get("updated_at")),
        closed_at=_parse_time(data.get("closed_at")),
    )


def html_base_url(api_url: str) -> str:
    """The web address that goes with a REST base URL.

    ``https://api.github.com`` → ``https://github.com``; GitHub Enterprise
    ``https://host/api/v3`` → ``https://host``; anything else (the simulator)
    is returned unchanged.
    """
    api_url = api_url.rstrip("/")
    if api_url in ("https://api.github.com", "http://api.github.com"):
        return "https://github.com"
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/api/v3")]
    return api_url


__all__ = [
    "GitHubClient",
    "GitHubError",
    "GitHubNotConfigured",
    "IssueRef",
    "html_base_url",
    "issue_ref_from_json",
    "parse_retry_after",
    "translate",
    "wait_hint",
]
