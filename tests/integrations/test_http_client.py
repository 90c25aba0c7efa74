"""The outbound HTTP layer against a real local server: pooling, capture,
retries and the waits services ask for."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from django.test import override_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from integrations import http as outbound
from integrations.http import (
    OutboundConnectionError,
    OutboundTimeout,
    get_client,
    rate_limit_status,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]


@pytest.fixture
def server():
    yield from running_server()


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


def test_url_joins_paths_to_the_base_url_and_passes_absolute_urls_through(server):
    endpoint = make_endpoint(server.url + "/api/", save=False)
    client = get_client(endpoint)
    assert client.url("/v3/app") == server.url + "/api/v3/app"
    assert client.url("v3/app") == server.url + "/api/v3/app"
    assert client.url("") == server.url + "/api"
    assert client.url("https://elsewhere.test/x") == "https://elsewhere.test/x"


def test_a_call_is_captured_with_method_url_status_timing_and_bodies(server):
    server.script("/v3/app", Reply(201, {"app": {"id": "42"}}))
    client = get_client(make_endpoint(server.url))

    response = client.post("/v3/app", json={"type": "DISCORD"}, label="lookup")

    assert response.status_code == 201
    [exchange] = client.exchanges
    assert exchange["label"] == "lookup"
    assert exchange["method"] == "POST"
    assert exchange["url"] == server.url + "/v3/app"
    assert exchange["status"] == 201
    assert exchange["attempt"] == 1
    assert exchange["error"] is None
    assert exchange["elapsed_ms"] >= 0
    assert exchange["request_body"] == {"type": "DISCORD"}
    assert exchange["response_body"] == {"app": {"id": "42"}}
    assert exchange["request_headers"]["User-Agent"].startswith("testenv/")
    assert client.take_exchanges() == [exchange]
    assert client.exchanges == []


def test_a_long_response_body_is_cut_in_the_capture(server):
    server.script("/big", Reply(200, "x" * 10_000))
    client = get_client(make_endpoint(server.url))

    response = client.get("/big")

    assert len(response.content) == 10_000  # the caller gets all of it
    captured = client.exchanges[0]["response_body"]
    assert captured.startswith("x" * 4096)
    assert "truncated, 5904 more characters" in captured


def test_clients_of_one_endpoint_reuse_the_pooled_connection(server):
    endpoint = make_endpoint(server.url)
    get_client(endpoint).get("/a")
    get_client(endpoint).get("/b")
    ports = {hit.client_port for hit in server.hits()}
    assert len(server.hits()) == 2
    assert len(ports) == 1


def test_the_pool_is_rebuilt_when_the_endpoint_url_changes(server):
    endpoint = make_endpoint(server.url)
    first = get_client(endpoint)
    endpoint.base_url = server.url + "/v2"
    second = get_client(endpoint)
    assert first._pool is not second._pool
    assert get_client(endpoint)._pool is second._pool


def test_each_client_keeps_its_own_cookies(server):
    server.default(
        "/login", Reply(200, headers={"Set-Cookie": "p2s_admin=abc; Path=/"})
    )
    server.default("/whoami", Reply(echo=True))
    endpoint = make_endpoint(server.url)
    logged_in = get_client(endpoint)
    logged_in.post("/login")

    mine = logged_in.get("/whoami").json()["headers"]
    other = get_client(endpoint).get("/whoami").json()["headers"]

    assert mine.get("Cookie") == "p2s_admin=abc"
    assert "Cookie" not in other


def test_a_429_with_retry_after_two_delays_the_retry_by_at_least_two_seconds(server):
    server.script("/limited", Reply(429, {"detail": "slow down"}, {"Retry-After": "2"}))
    client = get_client(make_endpoint(server.url))

    response = client.get("/limited")

    first, second = server.hits("/limited")
    assert response.status_code == 200
    assert second.at - first.at >= 2.0
    assert client.last_retry_after == 2.0
    assert [e["status"] for e in client.exchanges] == [429, 200]
    assert [e["attempt"] for e in client.exchanges] == [1, 2]


def test_retry_after_given_as_an_http_date_is_honoured(server):
    when = formatdate(time.time() + 3, usegmt=True)
    server.script("/limited", Reply(429, headers={"Retry-After": when}))
    client = get_client(make_endpoint(server.url))

    client.get("/limited")

    first, second = server.hits("/limited")
    # The date has one-second resolution: about two seconds are left of it.
    assert second.at - first.at >= 1.5
    assert 1.5 <= client.last_retry_after <= 3.0


def test_discord_retry_after_in_the_body_is_honoured(server):
    body = {
        "message": "You are being rate limited.",
        "retry_after": 1.5,
        "global": False,
    }
    server.script("/users/@me", Reply(429, body))
    client = get_client(make_endpoint(server.url))

    response = client.get("/users/@me")

    first, second = server.hits("/users/@me")
    assert response.status_code == 200
    assert second.at - first.at >= 1.5
    assert client.last_retry_after == 1.5


def test_yunite_reset_in_is_honoured(server):
    path = "/v3/guild/1/registration/links"
    server.script(path, Reply(429, {"error": "rate"}, {"Y-RateLimit-ResetIn": "1.2"}))
    client = get_client(make_endpoint(server.url))

    client.post(path, json={"type": "DISCORD", "userIds": ["1"]})

    first, second = server.hits(path)
    assert second.at - first.at >= 1.2
    assert client.last_retry_after == 1.2


def test_a_github_403_with_no_remaining_waits_until_the_reset(server):
    reset = int(time.time()) + 2
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    body = {"message": "API rate limit exceeded"}
    server.script("/repos/o/r/issues", Reply(403, body, headers))
    client = get_client(make_endpoint(server.url))

    response = client.get("/repos/o/r/issues")

    first, second = server.hits("/repos/o/r/issues")
    assert response.status_code == 200
    assert second.at >= reset - 0.05
    assert second.at - first.at >= 1.0


def test_an_ordinary_403_is_not_retried(server):
    server.script("/forbidden", Reply(403, {"message": "Forbidden"}))
    client = get_client(make_endpoint(server.url))
    assert client.get("/forbidden").status_code == 403
    assert len(server.hits("/forbidden")) == 1


@override_settings(OUTBOUND_MAX_RETRY_WAIT_SECONDS=1)
def test_a_wait_longer_than_the_cap_is_not_retried_early(server):
    body = {"message": "You have exceeded a secondary rate limit."}
    server.default("/repos/o/r/issues", Reply(403, body))
    client = get_client(make_endpoint(server.url))

    started = time.monotonic()
    response = client.post("/repos/o/r/issues", json={"title": "t"})

    assert response.status_code == 403
    assert len(server.hits("/repos/o/r/issues")) == 1
    assert client.last_retry_after == 60.0
    assert time.monotonic() - started < 1.0


def test_the_retry_cap_holds(server):
    server.default("/flaky", Reply(503, {"error": "down"}))
    client = get_client(make_endpoint(server.url, retry_attempts=2))

    response = client.get("/flaky")

    assert response.status_code == 503  # the last answer, for the caller to classify
    assert len(server.hits("/flaky")) == 3
    assert [e["attempt"] for e in client.exchanges] == [1, 2, 3]


def test_retry_false_makes_exactly_one_attempt(server):
    server.default("/flaky", Reply(503))
    client = get_client(make_endpoint(server.url, retry_attempts=5))
    assert client.get("/flaky", retry=False).status_code == 503
    assert len(server.hits("/flaky")) == 1


def test_a_post_is_not_retried_after_a_5xx_but_is_after_a_429(server):
    server.default("/send", Reply(502))
    server.script("/limited", Reply(429, headers={"Retry-After": "0"}))
    client = get_client(make_endpoint(server.url, retry_attempts=3))

    assert client.post("/send", json={}).status_code == 502
    assert client.post("/limited", json={}).status_code == 200

    assert len(server.hits("/send")) == 1
    assert len(server.hits("/limited")) == 2


def test_a_post_declared_idempotent_is_retried_after_a_5xx(server):
    server.script("/rpc", Reply(500), Reply(500))
    client = get_client(make_endpoint(server.url, retry_attempts=3))
    response = client.post("/rpc", json={"action": "send", "id": "x"}, idempotent=True)
    assert response.status_code == 200
    assert len(server.hits("/rpc")) == 3


def test_an_unanswered_get_times_out_after_retrying(server):
    server.default("/hang", Reply(delay=1.0))
    client = get_client(make_endpoint(server.url, retry_attempts=1))

    with pytest.raises(OutboundTimeout) as caught:
        client.get("/hang", timeout=0.2)

    assert not caught.value.permanent
    assert "timed out after 0.2 s" in str(caught.value)
    assert len(server.hits("/hang")) == 2
    assert [e["error"] for e in client.exchanges] == [str(caught.value)] * 2


def test_a_post_whose_connection_drops_is_not_resent(server):
    server.default("/pay", Reply(drop=True))
    client = get_client(make_endpoint(server.url, retry_attempts=3))

    with pytest.raises(OutboundConnectionError) as caught:
        client.post("/pay", json={"amount": "1"})

    assert "closed the connection" in str(caught.value)
    assert len(server.hits("/pay")) == 1


def test_a_refused_connection_is_retried_and_then_raised(server):
    url = server.url
    server.stop()  # nothing listens on the port any more
    client = get_client(make_endpoint(url, retry_attempts=2))

    with pytest.raises(OutboundConnectionError) as caught:
        client.post("/anything", json={})

    assert "connection refused" in str(caught.value)
    assert caught.value.permanent is False
    # Refused before anything was sent: safe to retry even a POST.
    assert len(client.exchanges) == 3
    assert all(e["status"] is None for e in client.exchanges)


def test_rate_limit_status_shows_the_last_retry_after(server):
    server.script("/limited", Reply(429, headers={"Retry-After": "0.2"}))
    endpoint = make_endpoint(server.url, rate_limit_per_minute=5)
    client = get_client(endpoint)

    client.get("/limited")
    status = rate_limit_status(endpoint)

    assert status["limit_per_minute"] == 5
    assert status["remaining"] == 3  # two attempts used two slots
    assert status["next_slot_at"] is None
    assert status["last_retry_after"] == 0.2
    assert status["last_rate_limited_at"] is not None


def test_every_attempt_gets_a_client_span(server, monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(outbound, "tracer", provider.get_tracer("test"))
    server.script("/flaky", Reply(503))
    client = get_client(make_endpoint(server.url, retry_attempts=1))

    client.get("/flaky?token=hunter22")

    spans = exporter.get_finished_spans()
    assert [s.attributes["http.response.status_code"] for s in spans] == [503, 200]
    assert [s.attributes["testenv.attempt"] for s in spans] == [1, 2]
    assert all("hunter22" not in s.attributes["url.full"] for s in spans)


@override_settings(OUTBOUND_MAX_CAPTURED_EXCHANGES=3)
def test_a_long_lived_client_keeps_only_the_newest_exchanges(server):
    client = get_client(make_endpoint(server.url))
    for number in range(5):
        client.get(f"/n{number}")
    assert [e["url"].rsplit("/", 1)[1] for e in client.exchanges] == ["n2", "n3", "n4"]
