from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from github import Auth, Github, GithubException

from integrations.kinds.github.simulator import sign_payload
from integrations.simulators import fixtures as fx
from tests.integrations.simulators.conftest import set_faults, set_settings

AUTH = {
    "Authorization": f"Bearer {fx.GITHUB_TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
ISSUE_KEYS = {
    "id", "node_id", "number", "title", "body", "state", "state_reason", "locked",
    "html_url", "url", "repository_url", "comments_url", "labels", "assignee",
    "assignees", "milestone", "comments", "user", "author_association",
    "created_at", "updated_at", "closed_at",
}  # fmt: skip


def issues_url(sim, repo: str = fx.GITHUB_REPO) -> str:
    return f"{sim.url}/github/repos/{repo}/issues"


def create(sim, http, headers=AUTH, **body):
    return http.post(
        issues_url(sim), json={"title": "Broken payout", **body}, headers=headers
    )


def test_the_official_signature_test_vector() -> None:
    assert sign_payload("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_creating_an_issue_returns_201_location_and_the_full_shape(sim, http) -> None:
    reply = create(sim, http, body="Steps...", labels=["bug", "category:integration"])
    assert reply.status_code == 201
    issue = reply.json()
    assert set(issue) >= ISSUE_KEYS
    assert reply.headers["Location"] == issue["url"]
    assert issue["number"] == len(fx.GITHUB_SEED_ISSUES) + 1
    assert issue["url"] == f"{issues_url(sim)}/{issue['number']}"
    assert issue["state"] == "open"
    assert issue["state_reason"] is None
    assert issue["user"]["login"] == fx.GITHUB_USER_LOGIN
    assert [label["name"] for label in issue["labels"]] == [
        "bug",
        "category:integration",
    ]
    assert set(issue["labels"][0]) == {
        "id",
        "node_id",
        "url",
        "name",
        "description",
        "color",
        "default",
    }
    assert http.get(issue["url"], headers=AUTH).json() == issue
    assert http.get(issue["html_url"]).status_code == 200
    # Labels that did not exist are created, as GitHub does.
    label = http.get(
        f"{sim.url}/github/repos/{fx.GITHUB_REPO}/labels/category:integration"
    )
    assert label.status_code == 200


def test_a_title_may_be_a_number_but_not_missing(sim, http) -> None:
    assert create(sim, http, title=42).json()["title"] == "42"
    missing = http.post(issues_url(sim), json={"body": "x"}, headers=AUTH)
    assert missing.status_code == 422
    assert missing.json()["message"] == "Validation Failed"
    assert missing.json()["errors"] == [
        {"resource": "Issue", "field": "title", "code": "missing_field"}
    ]
    bad_json = http.post(issues_url(sim), data="{", headers=AUTH)
    assert bad_json.status_code == 400
    assert bad_json.json()["message"] == "Problems parsing JSON"
    bad_assignee = create(sim, http, assignees=["nobody-here"])
    assert bad_assignee.status_code == 422


def test_without_push_access_labels_and_assignees_are_dropped(sim, http) -> None:
    headers = {"Authorization": f"token {fx.GITHUB_READONLY_TOKEN}"}
    issue = create(
        sim, http, headers=headers, labels=["bug"], assignees=[fx.GITHUB_USER_LOGIN]
    ).json()
    assert issue["labels"] == []
    assert issue["assignees"] == []


@pytest.mark.parametrize("header", ["Bearer nope", "token nope", "Basic abc"])
def test_bad_credentials_are_401(sim, http, header) -> None:
    reply = http.get(f"{sim.url}/github/user", headers={"Authorization": header})
    assert reply.status_code == 401
    assert reply.json()["message"] == "Bad credentials"
    assert "documentation_url" in reply.json()


def test_writing_anonymously_requires_authentication(sim, http) -> None:
    reply = http.post(issues_url(sim), json={"title": "x"})
    assert reply.status_code == 401
    assert reply.json()["message"] == "Requires authentication"


def test_unknown_repos_are_404_and_disabled_issues_410(sim, http) -> None:
    assert (
        http.get(f"{sim.url}/github/repos/pay2slay/nope", headers=AUTH).status_code
        == 404
    )
    repo = http.get(
        f"{sim.url}/github/repos/{fx.GITHUB_ISSUES_DISABLED_REPO}", headers=AUTH
    ).json()
    assert repo["has_issues"] is False
    gone = http.post(
        issues_url(sim, fx.GITHUB_ISSUES_DISABLED_REPO),
        json={"title": "x"},
        headers=AUTH,
    )
    assert gone.status_code == 410
    assert gone.json()["message"] == "Issues are disabled for this repo"


def test_the_repo_and_user_endpoints(sim, http) -> None:
    repo = http.get(f"{sim.url}/github/repos/{fx.GITHUB_REPO}", headers=AUTH).json()
    assert repo["full_name"] == fx.GITHUB_REPO
    assert repo["has_issues"] is True
    assert repo["permissions"]["push"] is True
    user = http.get(f"{sim.url}/github/user", headers=AUTH).json()
    assert user["login"] == fx.GITHUB_USER_LOGIN


def test_every_response_has_rate_limit_headers_and_rate_limit_is_free(
    sim, http
) -> None:
    first = http.get(f"{sim.url}/github/user", headers=AUTH)
    second = http.get(f"{sim.url}/github/user", headers=AUTH)
    assert first.headers["x-ratelimit-limit"] == str(fx.GITHUB_RATE_LIMIT)
    assert int(second.headers["x-ratelimit-remaining"]) == (
        int(first.headers["x-ratelimit-remaining"]) - 1
    )
    assert second.headers["x-ratelimit-used"] == "2"
    assert second.headers["x-ratelimit-resource"] == "core"
    assert int(second.headers["x-ratelimit-reset"]) > time.time()
    limits = http.get(f"{sim.url}/github/rate_limit", headers=AUTH)
    assert limits.json()["resources"]["core"]["used"] == 2
    assert (
        http.get(f"{sim.url}/github/rate_limit", headers=AUTH).json()["rate"]["used"]
        == 2
    )
    search = http.get(
        f"{sim.url}/github/search/issues", params={"q": "x"}, headers=AUTH
    )
    assert search.headers["x-ratelimit-resource"] == "search"


def test_listing_filters_sorts_and_paginates_with_a_link_header(sim, http) -> None:
    for n in range(5):
        create(sim, http, title=f"Report {n}", labels=["feedback"])
    everything = http.get(issues_url(sim), params={"state": "all"}, headers=AUTH).json()
    assert len(everything) == 7
    assert [i["number"] for i in everything] == sorted(
        (i["number"] for i in everything), reverse=True
    )
    closed = http.get(issues_url(sim), params={"state": "closed"}, headers=AUTH).json()
    assert [i["title"] for i in closed] == ["Leaderboard sorts by name"]
    labelled = http.get(
        issues_url(sim), params={"labels": "feedback"}, headers=AUTH
    ).json()
    assert len(labelled) == 5
    mine = http.get(
        issues_url(sim), params={"creator": fx.GITHUB_USER_LOGIN}, headers=AUTH
    ).json()
    assert len(mine) == 5
    page = http.get(
        issues_url(sim),
        params={"per_page": 2, "page": 2, "direction": "asc"},
        headers=AUTH,
    )
    # Open issues are #1 and #3..#7; ascending, page 2 of 3 holds #4 and #5.
    assert [i["number"] for i in page.json()] == [4, 5]
    links = {rel: parse_qs(urlsplit(v["url"]).query) for rel, v in page.links.items()}
    assert links["next"]["page"] == ["3"]
    assert links["last"]["page"] == ["3"]
    assert links["prev"]["page"] == ["1"]
    assert links["next"]["direction"] == ["asc"]
    future = http.get(
        issues_url(sim), params={"since": "2999-01-01T00:00:00Z"}, headers=AUTH
    ).json()
    assert future == []


def test_search_finds_an_issue_by_a_hidden_body_marker(sim, http) -> None:
    marker = f"<!-- testenv-feedback:{uuid.uuid4()} -->"
    issue = create(sim, http, body=f"Report text\n\n{marker}").json()
    create(sim, http, body="another report")
    found = http.get(
        f"{sim.url}/github/search/issues",
        params={"q": f'"{marker}" repo:{fx.GITHUB_REPO} is:issue in:body'},
        headers=AUTH,
    ).json()
    assert found["total_count"] == 1
    assert found["incomplete_results"] is False
    assert found["items"][0]["number"] == issue["number"]
    missing = http.get(f"{sim.url}/github/search/issues", headers=AUTH)
    assert missing.status_code == 422


def test_search_can_lag_behind_like_the_real_index(sim, http) -> None:
    set_settings(sim, "github", search_index_delay_seconds=0.5)
    create(sim, http, body="lagging-marker")
    url = f"{sim.url}/github/search/issues"
    assert (
        http.get(url, params={"q": "lagging-marker"}, headers=AUTH).json()[
            "total_count"
        ]
        == 0
    )
    time.sleep(0.6)
    assert (
        http.get(url, params={"q": "lagging-marker"}, headers=AUTH).json()[
            "total_count"
        ]
        == 1
    )


def test_labels_can_be_listed_created_and_not_duplicated(sim, http) -> None:
    url = f"{sim.url}/github/repos/{fx.GITHUB_REPO}/labels"
    names = [label["name"] for label in http.get(url, headers=AUTH).json()]
    assert names == sorted(name for name, _, _ in fx.GITHUB_SEED_LABELS)
    created = http.post(
        url, json={"name": "priority:high", "color": "b60205"}, headers=AUTH
    )
    assert created.status_code == 201
    duplicate = http.post(url, json={"name": "Priority:High"}, headers=AUTH)
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["code"] == "already_exists"
    assert http.get(f"{url}/nope", headers=AUTH).status_code == 404


def test_fail_after_create_creates_the_issue_but_answers_500(sim, http) -> None:
    set_faults(sim, "github", fail_after_create=1)
    failed = create(sim, http, title="Lost answer")
    assert failed.status_code == 500
    titles = [i["title"] for i in http.get(issues_url(sim), headers=AUTH).json()]
    assert titles.count("Lost answer") == 1
    assert create(sim, http).status_code == 201


def test_a_secondary_rate_limit_blocks_the_next_writes_only(sim, http) -> None:
    set_faults(sim, "github", secondary_rate_limit={"count": 2, "retry_after": 30})
    for _ in range(2):
        blocked = create(sim, http)
        assert blocked.status_code == 403
        assert "secondary rate limit" in blocked.json()["message"]
        assert blocked.headers["retry-after"] == "30"
    assert http.get(issues_url(sim), headers=AUTH).status_code == 200
    assert create(sim, http).status_code == 201
    assert len(http.get(issues_url(sim), headers=AUTH).json()) == 2


def test_an_exhausted_primary_limit_answers_403_until_reset(sim, http) -> None:
    set_faults(sim, "github", primary_exhausted={"reset_in": 1})
    reply = http.get(f"{sim.url}/github/user", headers=AUTH)
    assert reply.status_code == 403
    assert reply.headers["x-ratelimit-remaining"] == "0"
    reset = int(reply.headers["x-ratelimit-reset"])
    assert time.time() - 1 <= reset <= time.time() + 2
    assert "rate limit exceeded" in reply.json()["message"]
    limits = http.get(f"{sim.url}/github/rate_limit", headers=AUTH).json()
    assert limits["resources"]["core"]["remaining"] == 0
    time.sleep(1.2)
    assert http.get(f"{sim.url}/github/user", headers=AUTH).status_code == 200


def test_a_generic_rate_limit_is_a_429_with_retry_after(sim, http) -> None:
    set_faults(sim, "github", rate_limited=True, retry_after=5)
    reply = http.get(f"{sim.url}/github/user", headers=AUTH)
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "5"
    assert reply.headers["x-ratelimit-remaining"] == "0"


def test_closing_by_patch_delivers_a_signed_issues_event(sim, http, receiver) -> None:
    hook = http.post(
        f"{sim.url}/_control/github/webhook",
        json={"url": receiver.url, "secret": fx.GITHUB_WEBHOOK_SECRET},
    )
    assert hook.status_code == 201
    ping = receiver.next()
    assert ping.headers["X-GitHub-Event"] == "ping"
    issue = create(sim, http).json()
    opened = receiver.next()
    assert opened.json()["action"] == "opened"
    closed = http.patch(
        issue["url"],
        json={"state": "closed", "state_reason": "completed"},
        headers=AUTH,
    ).json()
    assert closed["state"] == "closed"
    assert closed["closed_at"] is not None
    event = receiver.next()
    assert event.headers["X-GitHub-Event"] == "issues"
    assert event.headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert event.headers["X-GitHub-Hook-ID"] == str(hook.json()["id"])
    uuid.UUID(event.headers["X-GitHub-Delivery"])
    expected = hmac.new(
        fx.GITHUB_WEBHOOK_SECRET.encode(), event.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(
        event.headers["X-Hub-Signature-256"], f"sha256={expected}"
    )
    payload = event.json()
    assert payload["action"] == "closed"
    assert payload["issue"]["number"] == issue["number"]
    assert payload["repository"]["full_name"] == fx.GITHUB_REPO
    assert payload["sender"]["login"] == fx.GITHUB_USER_LOGIN


def test_control_can_close_and_reopen_with_a_synchronous_delivery(
    sim, http, receiver
) -> None:
    http.post(
        f"{sim.url}/_control/github/webhook",
        json={"url": receiver.url, "secret": "s3cret", "ping": False},
    )
    closed = http.post(f"{sim.url}/_control/github/issues/1/close").json()
    assert closed["issue"]["state"] == "closed"
    assert closed["deliveries"][0]["status_code"] == 204
    event = receiver.next()
    assert event.json()["action"] == "closed"
    assert event.headers["X-Hub-Signature-256"] == sign_payload("s3cret", event.body)
    reopened = http.post(f"{sim.url}/_control/github/issues/1/reopen").json()
    assert reopened["issue"]["state_reason"] == "reopened"
    assert receiver.next().json()["action"] == "reopened"
    log = http.get(f"{sim.url}/_control/github/webhook").json()
    assert [d["action"] for d in log["deliveries"]] == ["closed", "reopened"]
    assert http.post(f"{sim.url}/_control/github/issues/99/close").status_code == 404


def test_pygithub_can_create_and_read_issues(sim) -> None:
    client = Github(
        auth=Auth.Token(fx.GITHUB_TOKEN),
        base_url=f"{sim.url}/github",
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    repo = client.get_repo(fx.GITHUB_REPO)
    assert repo.has_issues
    issue = repo.create_issue(title="From PyGithub", body="hello", labels=["bug"])
    assert issue.number == 3
    assert [label.name for label in issue.labels] == ["bug"]
    assert repo.get_issue(3).title == "From PyGithub"
    issue.edit(state="closed")
    assert repo.get_issue(3).state == "closed"
    disabled = client.get_repo(fx.GITHUB_ISSUES_DISABLED_REPO)
    with pytest.raises(GithubException) as excinfo:
        disabled.create_issue(title="x")
    assert excinfo.value.status == 410


def test_a_counting_rate_limit_spares_the_rate_limit_endpoint(sim, http) -> None:
    set_faults(sim, "github", rate_limit={"limit": 2, "window_seconds": 60})
    for _ in range(3):
        assert http.get(f"{sim.url}/github/rate_limit", headers=AUTH).status_code == 200
    assert http.get(f"{sim.url}/github/user", headers=AUTH).status_code == 200
    assert http.get(f"{sim.url}/github/user", headers=AUTH).status_code == 200
    limited = http.get(f"{sim.url}/github/user", headers=AUTH)
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-remaining"] == "0"
