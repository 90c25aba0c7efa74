"""GitHub REST simulator, base ``{url}/github`` (stands in for https://api.github.com).

Issues, labels, search and the primary rate limit behave like the REST API,
including the ``x-ratelimit-*`` headers on every response, 401/404/410/422 error
shapes and silently dropped labels for a token without push access. GitHub-only
faults: ``fail_after_create`` (create, then answer 500), ``secondary_rate_limit``
(403 with ``retry-after`` on writes) and ``primary_exhausted`` (403, remaining 0
until the reset). Issue events are delivered to webhooks registered through the
control API, signed with ``X-Hub-Signature-256``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import shlex
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from integrations.simulators import fixtures as fx
from integrations.simulators.base import (
    BodyError,
    FaultValidator,
    FixedWindow,
    Request,
    Response,
    Service,
    iso_z,
    reason_phrase,
)

DOCS = "https://docs.github.com/rest"
ISSUE_DOCS = "https://docs.github.com/rest/issues/issues"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
WEBHOOK_TIMEOUT_SECONDS = 10.0
MAX_DELIVERIES = 100
SEED_CREATED = "2024-01-05T10:00:00Z"


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def _secondary(value: Any) -> dict[str, float]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"count": _count(value)}
    if isinstance(value, dict) and set(value) <= {"count", "retry_after"}:
        spec: dict[str, float] = {"count": _count(value.get("count", 1))}
        if "retry_after" in value:
            retry = value["retry_after"]
            if (
                isinstance(retry, bool)
                or not isinstance(retry, int | float)
                or retry < 0
            ):
                raise ValueError("retry_after must be a number >= 0")
            spec["retry_after"] = float(retry)
        return spec
    raise ValueError('must be N or {"count": N, "retry_after": S}')


def _exhausted(value: Any) -> dict[str, float] | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict) and set(value) <= {"reset_in"}:
        reset_in = value.get("reset_in", 60)
        if isinstance(reset_in, bool) or not isinstance(reset_in, int | float):
            raise ValueError("reset_in must be a number")
        return {"reset_in": float(reset_in)}
    raise ValueError('must be true/false or {"reset_in": S}')


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number >= 0")
    return float(value)


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: int
    push: bool
    kind: str = "User"


USERS_BY_TOKEN = {
    fx.GITHUB_TOKEN: GitHubUser(fx.GITHUB_USER_LOGIN, fx.GITHUB_USER_ID, push=True),
    fx.GITHUB_READONLY_TOKEN: GitHubUser(
        fx.GITHUB_READONLY_USER_LOGIN, fx.GITHUB_READONLY_USER_ID, push=False
    ),
}
MAINTAINER = GitHubUser(fx.GITHUB_MAINTAINER_LOGIN, fx.GITHUB_MAINTAINER_ID, push=True)
OWNER = GitHubUser(fx.GITHUB_OWNER, fx.GITHUB_OWNER_ID, push=True, kind="Organization")
COLLABORATORS = {
    fx.GITHUB_USER_LOGIN: USERS_BY_TOKEN[fx.GITHUB_TOKEN],
    MAINTAINER.login: MAINTAINER,
}
KNOWN_USERS = {
    **{u.login: u for u in USERS_BY_TOKEN.values()},
    MAINTAINER.login: MAINTAINER,
}


@dataclass
class Repo:
    id: int
    full_name: str
    has_issues: bool
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    milestones: dict[int, str] = field(default_factory=dict)
    created_mono: dict[int, float] = field(default_factory=dict)
    next_number: int = 1

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]


@dataclass
class Hook:
    id: int
    url: str
    secret: str
    events: list[str]


def _node_id(prefix: str, number: int) -> str:
    return prefix + base64.b64encode(f"sim:{number}".encode()).decode().rstrip("=")


def sign_payload(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` value: HMAC-SHA256 of the raw body bytes."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class GitHubSimulator(Service):
    name = "github"
    prefix = "/github"
    extra_faults: ClassVar[dict[str, FaultValidator]] = {
        "fail_after_create": _count,
        "secondary_rate_limit": _secondary,
        "primary_exhausted": _exhausted,
    }
    default_settings: ClassVar[dict[str, Any]] = {
        # Real search is eventually consistent; a delay here reproduces that.
        "search_index_delay_seconds": 0.0,
    }
    setting_validators: ClassVar[dict[str, FaultValidator]] = {
        "search_index_delay_seconds": _seconds,
    }

    def routes(self) -> None:
        add = self.router.add
        add("GET", "/user", self.get_user)
        add("GET", "/rate_limit", self.get_rate_limit)
        add("GET", "/repos/{owner}/{repo}", self.get_repo)
        add("GET", "/repos/{owner}/{repo}/issues", self.list_issues)
        add("POST", "/repos/{owner}/{repo}/issues", self.create_issue)
        add("GET", "/repos/{owner}/{repo}/issues/{number}", self.get_issue)
        add("PATCH", "/repos/{owner}/{repo}/issues/{number}", self.update_issue)
        add("GET", "/repos/{owner}/{repo}/labels", self.list_labels)
        add("POST", "/repos/{owner}/{repo}/labels", self.create_label)
        add("GET", "/repos/{owner}/{repo}/labels/{name}", self.get_label)
        add("GET", "/search/issues", self.search_issues)
        add("GET", "/_web/{owner}/{repo}/issues/{number}", self.issue_page)

    def control_routes(self) -> None:
        add = self.control_router.add
        add("GET", "/webhook", self.control_hooks)
        add("POST", "/webhook", self.control_add_hook)
        add("DELETE", "/webhook", self.control_clear_hooks)
        add("POST", "/issues/{number}/close", self.control_close)
        add("POST", "/issues/{number}/reopen", self.control_reopen)

    def seed(self) -> None:
        with self.lock:
            self.counters: dict[tuple[str, str], FixedWindow] = {}
            self.hooks: list[Hook] = []
            self.deliveries: list[dict[str, Any]] = []
            self._next_issue_id = 2_000_000_001
            self._next_label_id = 3_000_000_001
            self._next_hook_id = 480_000_001
            self._fail_creates_left = 0
            self._secondary_left = 0
            self._exhausted_until = 0.0
            self.repos = {
                fx.GITHUB_REPO: Repo(fx.GITHUB_REPO_ID, fx.GITHUB_REPO, True),
                fx.GITHUB_ISSUES_DISABLED_REPO: Repo(
                    fx.GITHUB_ISSUES_DISABLED_REPO_ID,
                    fx.GITHUB_ISSUES_DISABLED_REPO,
                    False,
                ),
            }
            repo = self.repos[fx.GITHUB_REPO]
            repo.milestones = {1: "v1.0"}
            for name, color, description in fx.GITHUB_SEED_LABELS:
                self._add_label(repo, name, color, description, default=name == "bug")
            for title, body, state, labels in fx.GITHUB_SEED_ISSUES:
                issue = self._new_issue(
                    repo, MAINTAINER, title, body, list(labels), [], None
                )
                issue["created_at"] = issue["updated_at"] = SEED_CREATED
                repo.created_mono[issue["number"]] = 0.0
                if state == "closed":
                    issue.update(
                        state="closed",
                        state_reason="completed",
                        closed_at=SEED_CREATED,
                        closed_by=self._user_json(MAINTAINER),
                    )

    def on_faults_changed(self, changed: dict[str, Any]) -> None:
        if not changed:
            self._fail_creates_left = 0
            self._secondary_left = 0
            self._exhausted_until = 0.0
            return
        if "fail_after_create" in changed:
            self._fail_creates_left = changed["fail_after_create"] or 0
        if "secondary_rate_limit" in changed:
            spec = changed["secondary_rate_limit"]
            self._secondary_left = int(spec["count"]) if spec else 0
        if "primary_exhausted" in changed:
            spec = changed["primary_exhausted"]
            if not spec:
                self._exhausted_until = 0.0
            else:
                reset_in = (
                    spec["reset_in"]
                    if isinstance(spec, dict)
                    else float(self.faults.get("retry_after", 60.0))
                )
                self._exhausted_until = time.time() + reset_in

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "repos": {
                    name: {
                        "has_issues": repo.has_issues,
                        "issues": len(repo.issues),
                        "labels": sorted(repo.labels),
                    }
                    for name, repo in self.repos.items()
                },
                "hooks": [
                    {"id": h.id, "url": h.url, "events": h.events} for h in self.hooks
                ],
                "deliveries": len(self.deliveries),
                "fail_after_create_left": self._fail_creates_left,
                "secondary_rate_limit_left": self._secondary_left,
                "primary_exhausted_until": self._exhausted_until or None,
            }

    # -- shapes ---------------------------------------------------------------

    @property
    def api(self) -> str:
        return self.base_url

    @property
    def web(self) -> str:
        """Where ``html_url`` points: a minimal page per issue."""
        return f"{self.base_url}/_web"

    def gh_error(
        self, status: int, message: str, docs: str = DOCS, **extra: Any
    ) -> Response:
        return Response.json(
            {
                "message": message,
                "documentation_url": docs,
                **extra,
                "status": str(status),
            },
            status,
            content_type="application/json; charset=utf-8",
        )

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        default = {
            404: "Not Found",
            500: "Server Error",
            502: "Server Error",
            503: "Service Unavailable",
        }.get(status, reason_phrase(status))
        return self.gh_error(status, message or default)

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        user = self._user(request)
        who = f"user ID {user.id}" if user else request.client[0]
        response = self.gh_error(
            429,
            f"API rate limit exceeded for {who}. If you reach out to GitHub Support "
            "for help, please include the request ID.",
            RATE_DOCS,
        )
        response.set_header("retry-after", str(int(retry_after + 0.999)))
        return response

    def validation_failed(
        self,
        resource: str,
        field_name: str,
        code: str,
        docs: str = ISSUE_DOCS,
        **extra: Any,
    ) -> Response:
        error: dict[str, Any] = {
            "resource": resource,
            "field": field_name,
            "code": code,
        }
        error.update(extra)
        return self.gh_error(422, "Validation Failed", docs, errors=[error])

    def counts_toward_limit(self, request: Request) -> bool:
        # Only the generic rate_limit fault reads this; the x-ratelimit-* headers
        # come from GitHub's own per-token, per-resource counters (before_route).
        return request.path != "/rate_limit"

    def decorate(self, request: Request, response: Response) -> None:
        info = request.extra.get("github_rate")
        if info is None:
            info = self._rate_snapshot(request, self._resource(request))
        if request.rate is not None and request.rate.limited:
            info = {**info, "remaining": 0, "reset": int(request.rate.reset_at)}
        response.set_header("x-ratelimit-limit", str(info["limit"]))
        response.set_header("x-ratelimit-remaining", str(info["remaining"]))
        response.set_header("x-ratelimit-used", str(info["used"]))
        response.set_header("x-ratelimit-reset", str(info["reset"]))
        response.set_header("x-ratelimit-resource", info["resource"])
        response.default_header("x-github-api-version-selected", "2022-11-28")
        response.default_header("x-github-media-type", "github.v3; format=json")
        response.default_header("x-github-request-id", uuid.uuid4().hex[:20].upper())
        if response.header("Content-Type") == "application/json":
            response.set_header("Content-Type", "application/json; charset=utf-8")

    # -- auth and rate limit --------------------------------------------------

    def _user(self, request: Request) -> GitHubUser | None:
        return request.extra.get("github_user")

    @staticmethod
    def _resource(request: Request) -> str:
        return "search" if request.path.startswith("/search/") else "core"

    def _counter(self, identity: str, resource: str) -> FixedWindow:
        key = (identity, resource)
        with self.lock:
            counter = self.counters.get(key)
            if counter is None:
                if resource == "search":
                    limit, window = fx.GITHUB_SEARCH_RATE_LIMIT, 60.0
                else:
                    anonymous = identity.startswith("ip:")
                    limit, window = (60 if anonymous else fx.GITHUB_RATE_LIMIT), 3600.0
                counter = FixedWindow(limit, window, enforce=True)
                self.counters[key] = counter
            return counter

    def _identity(self, request: Request) -> str:
        user = self._user(request)
        return f"user:{user.login}" if user else f"ip:{request.client[0]}"

    def _rate_snapshot(self, request: Request, resource: str) -> dict[str, Any]:
        info = self._counter(self._identity(request), resource).peek()
        snapshot = {
            "limit": info.limit,
            "remaining": info.remaining,
            "used": info.limit - info.remaining,
            "reset": int(info.reset_at),
            "resource": resource,
        }
        if resource == "core" and time.time() < self._exhausted_until:
            snapshot.update(
                remaining=0, used=info.limit, reset=int(self._exhausted_until)
            )
        return snapshot

    def before_route(self, request: Request) -> Response | None:
        if request.path.startswith("/_web/"):
            return None
        header = request.header("Authorization")
        if header is not None:
            kind, _, value = header.strip().partition(" ")
            user = (
                USERS_BY_TOKEN.get(value.strip())
                if kind.lower() in ("bearer", "token")
                else None
            )
            if user is None:
                return self.gh_error(401, "Bad credentials", DOCS)
            request.extra["github_user"] = user
        if request.path == "/rate_limit":
            return None
        resource = self._resource(request)
        now = time.time()
        with self.lock:
            exhausted = resource == "core" and now < self._exhausted_until
            if not exhausted and self._exhausted_until and now >= self._exhausted_until:
                self._exhausted_until = 0.0
                self.faults.pop("primary_exhausted", None)
        if exhausted:
            request.extra["github_rate"] = self._rate_snapshot(request, resource)
            return self._primary_limit(request)
        hit = self._counter(self._identity(request), resource).hit()
        request.extra["github_rate"] = {
            "limit": hit.limit,
            "remaining": hit.remaining,
            "used": hit.limit - hit.remaining,
            "reset": int(hit.reset_at),
            "resource": resource,
        }
        if hit.limited:
            return self._primary_limit(request)
        if request.method in WRITE_METHODS:
            with self.lock:
                secondary = self._secondary_left > 0
                if secondary:
                    self._secondary_left -= 1
                    spec = self.faults.get("secondary_rate_limit") or {}
                    retry_after = spec.get(
                        "retry_after", self.faults.get("retry_after", 60.0)
                    )
                    if self._secondary_left == 0:
                        self.faults.pop("secondary_rate_limit", None)
            if secondary:
                response = self.gh_error(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again. If you reach out to GitHub Support "
                    "for help, please include the request ID.",
                    f"{RATE_DOCS}#about-secondary-rate-limits",
                )
                response.set_header("retry-after", str(int(retry_after + 0.999)))
                return response
        return None

    def _primary_limit(self, request: Request) -> Response:
        user = self._user(request)
        who = f"user ID {user.id}" if user else request.client[0]
        return self.gh_error(
            403,
            f"API rate limit exceeded for {who}. If you reach out to GitHub Support "
            "for help, please include the request ID.",
            RATE_DOCS,
        )

    # -- JSON shapes ----------------------------------------------------------

    def _user_json(self, user: GitHubUser) -> dict[str, Any]:
        base = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": _node_id("MDQ6VXNlcj", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{self.web}/{user.login}",
            "followers_url": f"{base}/followers",
            "repos_url": f"{base}/repos",
            "type": user.kind,
            "site_admin": False,
        }

    def _repo_json(self, repo: Repo, user: GitHubUser | None) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}"
        push = bool(user and user.push)
        return {
            "id": repo.id,
            "node_id": _node_id("R_kgDO", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": self._user_json(OWNER),
            "html_url": f"{self.web}/{repo.full_name}",
            "description": "Banano payouts for verified Fortnite kills",
            "fork": False,
            "url": url,
            "issues_url": f"{url}/issues{{/number}}",
            "labels_url": f"{url}/labels{{/name}}",
            "created_at": "2023-06-01T00:00:00Z",
            "updated_at": SEED_CREATED,
            "pushed_at": SEED_CREATED,
            "homepage": None,
            "size": 1024,
            "stargazers_count": 3,
            "watchers_count": 3,
            "language": "Python",
            "has_issues": repo.has_issues,
            "has_projects": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "open_issues_count": sum(
                1 for i in repo.issues.values() if i["state"] == "open"
            ),
            "open_issues": sum(1 for i in repo.issues.values() if i["state"] == "open"),
            "forks_count": 0,
            "visibility": "public",
            "default_branch": "main",
            "permissions": {
                "admin": False,
                "maintain": push,
                "push": push,
                "triage": push,
                "pull": True,
            },
        }

    def _add_label(
        self, repo: Repo, name: str, color: str, description: str | None, default: bool
    ) -> dict[str, Any]:
        label = {
            "id": self._next_label_id,
            "node_id": _node_id("LA_kwDO", self._next_label_id),
            "url": f"{self.api}/repos/{repo.full_name}/labels/{quote(name)}",
            "name": name,
            "color": color,
            "default": default,
            "description": description,
        }
        self._next_label_id += 1
        repo.labels[name.lower()] = label
        return label

    def _new_issue(
        self,
        repo: Repo,
        creator: GitHubUser,
        title: str,
        body: str | None,
        labels: list[str],
        assignees: list[str],
        milestone: int | None,
    ) -> dict[str, Any]:
        number = repo.next_number
        repo.next_number += 1
        issue_id = self._next_issue_id
        self._next_issue_id += 1
        url = f"{self.api}/repos/{repo.full_name}/issues/{number}"
        now = iso_z()
        issue: dict[str, Any] = {
            "url": url,
            "repository_url": f"{self.api}/repos/{repo.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.web}/{repo.full_name}/issues/{number}",
            "id": issue_id,
            "node_id": _node_id("I_kwDO", issue_id),
            "number": number,
            "title": title,
            "user": self._user_json(creator),
            "labels": [],
            "state": "open",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "author_association": "MEMBER" if creator.push else "NONE",
            "active_lock_reason": None,
            "body": body,
            "closed_by": None,
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": None,
        }
        self._apply_labels(repo, issue, labels)
        self._apply_assignees(issue, assignees)
        self._apply_milestone(repo, issue, milestone)
        repo.issues[number] = issue
        repo.created_mono[number] = time.monotonic()
        return issue

    def _apply_labels(
        self, repo: Repo, issue: dict[str, Any], names: list[str]
    ) -> None:
        labels = []
        for name in names:
            label = repo.labels.get(name.lower()) or self._add_label(
                repo, name, "ededed", None, default=False
            )
            if label not in labels:
                labels.append(label)
        issue["labels"] = labels

    def _apply_assignees(self, issue: dict[str, Any], logins: list[str]) -> None:
        users = [
            self._user_json(COLLABORATORS[login]) for login in dict.fromkeys(logins)
        ]
        issue["assignees"] = users
        issue["assignee"] = users[0] if users else None

    def _apply_milestone(
        self, repo: Repo, issue: dict[str, Any], number: int | None
    ) -> None:
        if number is None:
            issue["milestone"] = None
            return
        issue["milestone"] = {
            "url": f"{self.api}/repos/{repo.full_name}/milestones/{number}",
            "id": 5_000_000 + number,
            "number": number,
            "title": repo.milestones[number],
            "state": "open",
        }

    # -- lookups --------------------------------------------------------------

    def _repo(self, request: Request, issues: bool = False) -> Repo | Response:
        full_name = f"{request.params['owner']}/{request.params['repo']}"
        repo = next(
            (r for name, r in self.repos.items() if name.lower() == full_name.lower()),
            None,
        )
        if repo is None:
            return self.gh_error(
                404, "Not Found", f"{DOCS}/repos/repos#get-a-repository"
            )
        if issues and not repo.has_issues:
            return self.gh_error(
                410,
                "Issues are disabled for this repo",
                "https://docs.github.com/v3/issues/",
            )
        return repo

    def _issue(self, request: Request, repo: Repo) -> dict[str, Any] | Response:
        number = request.params["number"]
        issue = repo.issues.get(int(number)) if number.isdigit() else None
        if issue is None:
            return self.gh_error(404, "Not Found", f"{ISSUE_DOCS}#get-an-issue")
        return issue

    def _require_auth(self, request: Request) -> GitHubUser | Response:
        user = self._user(request)
        if user is None:
            return self.gh_error(401, "Requires authentication", DOCS)
        return user

    def _json_body(self, request: Request) -> dict[str, Any] | Response:
        try:
            data = request.json() if request.body.strip() else {}
        except BodyError:
            return self.gh_error(400, "Problems parsing JSON", DOCS)
        if not isinstance(data, dict):
            return self.gh_error(400, "Problems parsing JSON", DOCS)
        return data

    # -- endpoints ------------------------------------------------------------

    def get_user(self, request: Request) -> Response:
        user = self._require_auth(request)
        if isinstance(user, Response):
            return user
        data = self._user_json(user)
        data.update(
            {
                "name": "Testenv Bot" if user.push else "Testenv Reader",
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "public_repos": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2023-06-01T00:00:00Z",
                "updated_at": SEED_CREATED,
            }
        )
        return Response.json(data)

    def get_rate_limit(self, request: Request) -> Response:
        core = self._rate_snapshot(request, "core")
        search = self._rate_snapshot(request, "search")
        resources = {
            name: {key: info[key] for key in ("limit", "used", "remaining", "reset")}
            | {"resource": name}
            for name, info in (("core", core), ("search", search))
        }
        reset = int(time.time()) + 3600
        resources["graphql"] = {
            "limit": 5000,
            "used": 0,
            "remaining": 5000,
            "reset": reset,
            "resource": "graphql",
        }
        request.extra["github_rate"] = core
        return Response.json({"resources": resources, "rate": resources["core"]})

    def get_repo(self, request: Request) -> Response:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, Response):
                return repo
            return Response.json(self._repo_json(repo, self._user(request)))

    def create_issue(self, request: Request) -> Response:
        user = self._require_auth(request)
        if isinstance(user, Response):
            return user
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        title = body.get("title")
        if isinstance(title, bool) or not isinstance(title, str | int) or title == "":
            return self.validation_failed("Issue", "title", "missing_field")
        text = body.get("body")
        if text is not None and not isinstance(text, str):
            return self.validation_failed("Issue", "body", "invalid")
        labels = self._names(body.get("labels", []))
        if labels is None:
            return self.validation_failed("Issue", "labels", "invalid")
        assignees = body.get("assignees", [])
        if body.get("assignee"):
            assignees = [*assignees, body["assignee"]]
        if not isinstance(assignees, list) or not all(
            isinstance(a, str) for a in assignees
        ):
            return self.validation_failed("Issue", "assignees", "invalid")
        milestone = body.get("milestone")
        with self.lock:
            repo = self._repo(request, issues=True)
            if isinstance(repo, Response):
                return repo
            if not user.push:
                # GitHub drops these silently for users without push access.
                labels, assignees, milestone = [], [], None
            for login in assignees:
                if login not in COLLABORATORS:
                    return self.validation_failed(
                        "Issue", "assignees", "invalid", value=login
                    )
            if milestone is not None and (
                isinstance(milestone, bool)
                or not isinstance(milestone, int)
                or milestone not in repo.milestones
            ):
                return self.validation_failed(
                    "Issue", "milestone", "invalid", value=milestone
                )
            issue = self._new_issue(
                repo, user, str(title), text, labels, assignees, milestone
            )
            fail = self._fail_creates_left > 0
            if fail:
                self._fail_creates_left -= 1
                if self._fail_creates_left == 0:
                    self.faults.pop("fail_after_create", None)
            snapshot = json.loads(json.dumps(issue))
            repo_json = self._repo_json(repo, user)
        self._deliver_async("opened", snapshot, repo_json, self._user_json(user))
        if fail:
            return self.gh_error(500, "Server Error")
        return Response.json(snapshot, 201, [("Location", snapshot["url"])])

    @staticmethod
    def _names(value: Any) -> list[str] | None:
        if not isinstance(value, list):
            return None
        names = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name")
            if not isinstance(item, str) or not item:
                return None
            names.append(item)
        return names

    def list_issues(self, request: Request) -> Response:
        state = request.arg("state", "open")
        sort = request.arg("sort", "created")
        direction = request.arg("direction", "desc")
        if state not in ("open", "closed", "all"):
            return self.validation_failed("Issue", "state", "invalid", value=state)
        if sort not in ("created", "updated", "comments"):
            return self.validation_failed("Issue", "sort", "invalid", value=sort)
        if direction not in ("asc", "desc"):
            return self.validation_failed(
                "Issue", "direction", "invalid", value=direction
            )
        per_page = _bounded(request.arg("per_page"), 30, 1, 100)
        page = _bounded(request.arg("page"), 1, 1, 10**6)
        with self.lock:
            repo = self._repo(request, issues=True)
            if isinstance(repo, Response):
                return repo
            issues = list(repo.issues.values())
        if state != "all":
            issues = [i for i in issues if i["state"] == state]
        creator = request.arg("creator")
        if creator:
            issues = [
                i for i in issues if i["user"]["login"].lower() == creator.lower()
            ]
        wanted = [n.strip().lower() for n in (request.arg("labels") or "").split(",")]
        wanted = [n for n in wanted if n]
        if wanted:
            issues = [
                i
                for i in issues
                if set(wanted) <= {label["name"].lower() for label in i["labels"]}
            ]
        since = request.arg("since")
        if since:
            moment = _parse_time(since)
            if moment is None:
                return self.validation_failed("Issue", "since", "invalid", value=since)
            issues = [i for i in issues if _parse_time(i["updated_at"]) >= moment]
        key = {
            "created": "created_at",
            "updated": "updated_at",
            "comments": "comments",
        }[sort]
        issues.sort(key=lambda i: (i[key], i["number"]), reverse=direction == "desc")
        total_pages = max(1, -(-len(issues) // per_page))
        chunk = issues[(page - 1) * per_page : page * per_page]
        response = Response.json(chunk)
        link = self._link_header(request, page, total_pages, per_page)
        if link:
            response.set_header("Link", link)
        return response

    def _link_header(
        self, request: Request, page: int, last: int, per_page: int
    ) -> str:
        def url(number: int) -> str:
            params = {k: v[0] for k, v in request.query.items()}
            params.update(per_page=str(per_page), page=str(number))
            return f"{self.hub.url}{request.full_path}?{urlencode(params)}"

        links = []
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
        return ", ".join(links)

    def get_issue(self, request: Request) -> Response:
        with self.lock:
            repo = self._repo(request, issues=True)
            if isinstance(repo, Response):
                return repo
            issue = self._issue(request, repo)
            if isinstance(issue, Response):
                return issue
            return Response.json(issue)

    def update_issue(self, request: Request) -> Response:
        user = self._require_auth(request)
        if isinstance(user, Response):
            return user
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        with self.lock:
            repo = self._repo(request, issues=True)
            if isinstance(repo, Response):
                return repo
            issue = self._issue(request, repo)
            if isinstance(issue, Response):
                return issue
            problem = self._validate_update(repo, body)
            if problem is not None:
                return problem
            events = self._apply_update(repo, issue, body, user)
            snapshot = json.loads(json.dumps(issue))
            repo_json = self._repo_json(repo, user)
        for action in events:
            self._deliver_async(action, snapshot, repo_json, self._user_json(user))
        return Response.json(snapshot)

    def _validate_update(self, repo: Repo, body: dict[str, Any]) -> Response | None:
        if "title" in body and (
            isinstance(body["title"], bool)
            or not isinstance(body["title"], str | int)
            or body["title"] == ""
        ):
            return self.validation_failed("Issue", "title", "invalid")
        if "state" in body and body["state"] not in ("open", "closed"):
            return self.validation_failed(
                "Issue", "state", "invalid", value=body["state"]
            )
        if body.get("state_reason") not in (
            None,
            "completed",
            "not_planned",
            "reopened",
        ):
            return self.validation_failed("Issue", "state_reason", "invalid")
        if "labels" in body and self._names(body["labels"]) is None:
            return self.validation_failed("Issue", "labels", "invalid")
        assignees = body.get("assignees", [])
        if not isinstance(assignees, list) or any(
            a not in COLLABORATORS for a in assignees
        ):
            return self.validation_failed("Issue", "assignees", "invalid")
        milestone = body.get("milestone")
        if milestone is not None and milestone not in repo.milestones:
            return self.validation_failed(
                "Issue", "milestone", "invalid", value=milestone
            )
        return None

    def _apply_update(
        self, repo: Repo, issue: dict[str, Any], body: dict[str, Any], user: GitHubUser
    ) -> list[str]:
        events = []
        if "title" in body:
            issue["title"] = str(body["title"])
        if "body" in body:
            issue["body"] = body["body"]
        if user.push:
            if "labels" in body:
                self._apply_labels(repo, issue, self._names(body["labels"]) or [])
            if "assignees" in body:
                self._apply_assignees(issue, body["assignees"])
            if "milestone" in body:
                self._apply_milestone(repo, issue, body["milestone"])
        new_state = body.get("state")
        if new_state and new_state != issue["state"]:
            events.append(
                self._set_state(issue, new_state, body.get("state_reason"), user)
            )
        elif "state_reason" in body and issue["state"] == "closed":
            issue["state_reason"] = body["state_reason"] or "completed"
        issue["updated_at"] = iso_z()
        return events

    def _set_state(
        self, issue: dict[str, Any], state: str, reason: str | None, user: GitHubUser
    ) -> str:
        now = iso_z()
        issue["state"] = state
        issue["updated_at"] = now
        if state == "closed":
            issue["closed_at"] = now
            issue["closed_by"] = self._user_json(user)
            issue["state_reason"] = reason or "completed"
            return "closed"
        issue["closed_at"] = None
        issue["closed_by"] = None
        issue["state_reason"] = "reopened"
        return "reopened"

    def list_labels(self, request: Request) -> Response:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, Response):
                return repo
            return Response.json(
                sorted(repo.labels.values(), key=lambda lb: lb["name"])
            )

    def get_label(self, request: Request) -> Response:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, Response):
                return repo
            label = repo.labels.get(request.params["name"].lower())
            if label is None:
                return self.gh_error(
                    404, "Not Found", f"{DOCS}/issues/labels#get-a-label"
                )
            return Response.json(label)

    def create_label(self, request: Request) -> Response:
        user = self._require_auth(request)
        if isinstance(user, Response):
            return user
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        name = body.get("name")
        docs = f"{DOCS}/issues/labels#create-a-label"
        if not isinstance(name, str) or not name.strip():
            return self.validation_failed("Label", "name", "missing_field", docs)
        color = str(body.get("color") or "ededed").lstrip("#").lower()
        if not re.fullmatch(r"[0-9a-f]{6}", color):
            return self.validation_failed("Label", "color", "invalid", docs)
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, Response):
                return repo
            if not user.push:
                return self.gh_error(403, "Must have admin rights to Repository.", docs)
            if name.lower() in repo.labels:
                return self.validation_failed("Label", "name", "already_exists", docs)
            label = self._add_label(repo, name, color, body.get("description"), False)
        return Response.json(label, 201, [("Location", label["url"])])

    def search_issues(self, request: Request) -> Response:
        query = request.arg("q")
        docs = f"{DOCS}/search/search#search-issues-and-pull-requests"
        if not query:
            return self.validation_failed("Search", "q", "missing", docs)
        try:
            tokens = shlex.split(query)
        except ValueError:
            tokens = query.split()
        repos: list[str] = []
        terms: list[str] = []
        filters: dict[str, list[str]] = {}
        for token in tokens:
            qualifier, sep, value = token.partition(":")
            if sep and qualifier in (
                "repo",
                "is",
                "state",
                "in",
                "label",
                "author",
                "type",
            ):
                if qualifier == "repo":
                    repos.append(value.lower())
                else:
                    filters.setdefault(qualifier, []).append(value.lower())
            else:
                terms.append(token.lower())
        with self.lock:
            if any(r not in {n.lower() for n in self.repos} for r in repos):
                return self.gh_error(
                    422,
                    "Validation Failed",
                    docs,
                    errors=[
                        {
                            "message": "The listed users and repositories cannot be "
                            "searched either because the resources do not exist or "
                            "you do not have permission to view them.",
                            "resource": "Search",
                            "field": "q",
                            "code": "invalid",
                        }
                    ],
                )
            delay = float(self.settings["search_index_delay_seconds"])
            horizon = time.monotonic() - delay
            candidates = [
                (repo, issue)
                for name, repo in self.repos.items()
                if repo.has_issues and (not repos or name.lower() in repos)
                for number, issue in repo.issues.items()
                if repo.created_mono.get(number, 0.0) <= horizon
            ]
            items = [
                json.loads(json.dumps(issue)) | {"score": 1.0}
                for _repo, issue in candidates
                if _search_match(issue, terms, filters)
            ]
        items.sort(key=lambda i: i["number"], reverse=True)
        per_page = _bounded(request.arg("per_page"), 30, 1, 100)
        page = _bounded(request.arg("page"), 1, 1, 10**6)
        chunk = items[(page - 1) * per_page : page * per_page]
        return Response.json(
            {"total_count": len(items), "incomplete_results": False, "items": chunk}
        )

    def issue_page(self, request: Request) -> Response:
        with self.lock:
            repo = self._repo(request)
            if isinstance(repo, Response):
                return repo
            issue = self._issue(request, repo)
            if isinstance(issue, Response):
                return issue
            html = (
                f"<!doctype html><title>{escape(issue['title'])}</title>"
                f"<h1>{escape(issue['title'])} #{issue['number']}</h1>"
                f"<p>{escape(repo.full_name)} · {issue['state']} (simulated GitHub)</p>"
                f"<pre>{escape(issue['body'] or '')}</pre>"
            )
        return Response.text(html, content_type="text/html; charset=utf-8")

    # -- webhooks -------------------------------------------------------------

    def _deliver_async(
        self,
        action: str,
        issue: dict[str, Any],
        repository: dict[str, Any],
        sender: dict[str, Any],
    ) -> None:
        with self.lock:
            if not self.hooks:
                return
        payload = {
            "action": action,
            "issue": issue,
            "repository": repository,
            "sender": sender,
        }
        threading.Thread(
            target=self.deliver,
            args=("issues", payload),
            name="github-webhook",
            daemon=True,
        ).start()

    def deliver(
        self, event: str, payload: dict[str, Any], hooks: list[Hook] | None = None
    ) -> list[dict[str, Any]]:
        """POST one event to every matching hook; returns the delivery records."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        with self.lock:
            targets = [
                h
                for h in (hooks if hooks is not None else self.hooks)
                if event == "ping" or event in h.events or "*" in h.events
            ]
        records = []
        for hook in targets:
            delivery_id = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/sim",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery_id,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(
                    payload.get("repository", {}).get("id", "")
                ),
            }
            if hook.secret:
                headers["X-Hub-Signature-256"] = sign_payload(hook.secret, body)
                sha1 = hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest()
                headers["X-Hub-Signature"] = f"sha1={sha1}"
            record: dict[str, Any] = {
                "id": delivery_id,
                "hook_id": hook.id,
                "url": hook.url,
                "event": event,
                "action": payload.get("action"),
                "delivered_at": iso_z(),
                "status_code": None,
                "error": None,
            }
            started = time.monotonic()
            try:
                record["status_code"] = _post(hook.url, body, headers)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                record["error"] = str(exc)
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            records.append(record)
        with self.lock:
            self.deliveries.extend(records)
            del self.deliveries[:-MAX_DELIVERIES]
        return records

    def control_hooks(self, request: Request) -> Response:
        with self.lock:
            return Response.json(
                {
                    "hooks": [
                        {
                            "id": h.id,
                            "url": h.url,
                            "events": h.events,
                            "has_secret": bool(h.secret),
                        }
                        for h in self.hooks
                    ],
                    "deliveries": list(self.deliveries),
                }
            )

    def control_add_hook(self, request: Request) -> Response:
        try:
            body = request.json()
        except BodyError:
            return Response.json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            return Response.json({"error": '"url" is required'}, 400)
        secret = body.get("secret", "")
        events = body.get("events", ["issues"])
        if not isinstance(secret, str) or not isinstance(events, list):
            return Response.json(
                {"error": "secret must be a string, events a list"}, 400
            )
        with self.lock:
            hook = Hook(
                self._next_hook_id, body["url"], secret, [str(e) for e in events]
            )
            self._next_hook_id += 1
            self.hooks.append(hook)
            repo_json = self._repo_json(self.repos[fx.GITHUB_REPO], MAINTAINER)
        if body.get("ping", True):
            payload = {
                "zen": "Keep it logically awesome.",
                "hook_id": hook.id,
                "hook": {"type": "Repository", "id": hook.id, "events": hook.events},
                "repository": repo_json,
                "sender": self._user_json(MAINTAINER),
            }
            threading.Thread(
                target=self.deliver, args=("ping", payload, [hook]), daemon=True
            ).start()
        return Response.json(
            {"id": hook.id, "url": hook.url, "events": hook.events}, 201
        )

    def control_clear_hooks(self, request: Request) -> Response:
        with self.lock:
            self.hooks.clear()
        return Response.empty(204)

    def _control_state(self, request: Request, state: str) -> Response:
        try:
            body = request.json() if request.body.strip() else {}
        except BodyError:
            return Response.json({"error": "body must be JSON"}, 400)
        repo_name = body.get("repo", fx.GITHUB_REPO) if isinstance(body, dict) else None
        with self.lock:
            repo = self.repos.get(repo_name or "")
            number = request.params["number"]
            issue = repo.issues.get(int(number)) if repo and number.isdigit() else None
            if repo is None or issue is None:
                return Response.json({"error": f"no issue {repo_name}#{number}"}, 404)
            action = None
            if issue["state"] != state:
                reason = body.get("state_reason") if isinstance(body, dict) else None
                action = self._set_state(issue, state, reason, MAINTAINER)
            snapshot = json.loads(json.dumps(issue))
            repo_json = self._repo_json(repo, MAINTAINER)
        deliveries = []
        if action is not None:
            deliveries = self.deliver(
                "issues",
                {
                    "action": action,
                    "issue": snapshot,
                    "repository": repo_json,
                    "sender": self._user_json(MAINTAINER),
                },
            )
        return Response.json(
            {"issue": snapshot, "action": action, "deliveries": deliveries}
        )

    def control_close(self, request: Request) -> Response:
        return self._control_state(request, "closed")

    def control_reopen(self, request: Request) -> Response:
        return self._control_state(request, "open")


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST keeping the header names' case (urllib would capitalize them)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"unsupported webhook URL {url!r}")
    connection_class = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    connection = connection_class(
        parts.hostname, parts.port, timeout=WEBHOOK_TIMEOUT_SECONDS
    )
    try:
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _bounded(text: str | None, default: int, low: int, high: int) -> int:
    if text is None or not text.isdigit():
        return default
    return min(high, max(low, int(text)))


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _search_match(
    issue: dict[str, Any], terms: list[str], filters: dict[str, list[str]]
) -> bool:
    for value in filters.get("is", []) + filters.get("type", []):
        if value in ("open", "closed") and issue["state"] != value:
            return False
        if value in ("pr", "pull-request"):
            return False
    if any(issue["state"] != value for value in filters.get("state", [])):
        return False
    labels = {label["name"].lower() for label in issue["labels"]}
    if any(value not in labels for value in filters.get("label", [])):
        return False
    if any(issue["user"]["login"].lower() != v for v in filters.get("author", [])):
        return False
    fields = filters.get("in") or ["title", "body"]
    haystack = " ".join(
        (issue.get(name) or "") for name in ("title", "body") if name in fields
    ).lower()
    return all(term in haystack for term in terms)
