"""The per-endpoint rate limit, shared through Redis by separate processes.

The budget applies per ``OUTBOUND_RATE_LIMIT_WINDOW_SECONDS`` (60 in
production); these tests shorten the window to two seconds so that the moving
window can be watched filling and draining within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from integrations import ratelimit
from integrations.http import OutboundRateLimitWait, get_client, rate_limit_status
from tests.integrations.outbound_helpers import (
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

WINDOW = 2
ROOT = Path(settings.BASE_DIR)

# A worker process: its own Django, its own client, the same endpoint id and the
# same Redis. It waits for "go" on stdin so that both start together.
WORKER = """
import json, os, sys
import django
django.setup()
from django.test import override_settings
from integrations.models import IntegrationEndpoint
from integrations.http import get_client

config = json.loads(sys.argv[1])
with override_settings(
    OUTBOUND_RATE_LIMIT_PREFIX=config["prefix"],
    OUTBOUND_RATE_LIMIT_WINDOW_SECONDS=config["window"],
):
    endpoint = IntegrationEndpoint(
        id=config["endpoint_id"], name=config["name"], kind="http",
        base_url=config["url"], rate_limit_per_minute=config["limit"],
        timeout_seconds=5, retry_attempts=0,
    )
    client = get_client(endpoint)
    print("ready", flush=True)
    sys.stdin.readline()
    for number in range(config["calls"]):
        client.get(f"/hit?worker={os.getpid()}&n={number}")
print("done", flush=True)
"""


@pytest.fixture
def server():
    yield from running_server()


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


@pytest.fixture
def short_window():
    with override_settings(OUTBOUND_RATE_LIMIT_WINDOW_SECONDS=WINDOW):
        yield WINDOW


def _start_workers(config: dict, count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "testenv.settings"}
    env.setdefault("REDIS_URL", settings.REDIS_URL)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    return workers


def test_two_processes_sharing_an_endpoint_never_exceed_its_budget_together(
    server, outbound_settings, short_window
):
    limit, calls_each = 6, 9
    endpoint = make_endpoint(server.url, rate_limit_per_minute=limit)
    config = {
        "prefix": outbound_settings,
        "window": short_window,
        "endpoint_id": endpoint.pk,
        "name": endpoint.name,
        "url": server.url,
        "limit": limit,
        "calls": calls_each,
    }
    workers = _start_workers(config, 2)
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.wait(timeout=30) == 0
        assert worker.stdout.read().strip() == "done"

    arrivals = sorted(hit.at for hit in server.hits("/hit"))
    assert len(arrivals) == 2 * calls_each
    # Any `limit + 1` consecutive requests span at least one window: no window
    # ever held more than `limit` of them. (Slack for the delivery delay between
    # taking a slot and the request reaching the server on a busy machine;
    # without the limiter the gaps are milliseconds.)
    for first, past_budget in zip(arrivals, arrivals[limit:], strict=False):
        assert past_budget - first >= short_window - 0.25
    # 18 calls at 6 per 2 s: the last third had to wait two windows.
    assert arrivals[-1] - arrivals[0] >= 2 * short_window - 0.25


def test_the_call_past_the_budget_waits_for_the_oldest_slot(server, short_window):
    endpoint = make_endpoint(server.url, rate_limit_per_minute=3)
    client = get_client(endpoint)
    for _ in range(3):
        client.get("/hit")
    first = server.hits("/hit")[0].at

    client.get("/hit")

    fourth = server.hits("/hit")[3].at
    assert fourth - first >= short_window - 0.05
    assert fourth - first < short_window + 1.0


def test_a_slot_further_away_than_the_longest_wait_is_an_error(server, short_window):
    endpoint = make_endpoint(server.url, rate_limit_per_minute=1)
    client = get_client(endpoint)
    client.get("/hit")

    started = time.monotonic()
    with pytest.raises(OutboundRateLimitWait):
        client.get("/hit", max_queue_wait=0.5)

    assert time.monotonic() - started < 0.5
    assert len(server.hits("/hit")) == 1


def test_status_shows_the_budget_left_and_when_the_next_slot_frees(
    server, short_window
):
    endpoint = make_endpoint(server.url, rate_limit_per_minute=2)
    client = get_client(endpoint)
    assert rate_limit_status(endpoint)["remaining"] == 2

    client.get("/hit")
    assert rate_limit_status(endpoint)["remaining"] == 1
    assert rate_limit_status(endpoint)["next_slot_at"] is None

    client.get("/hit")
    status = rate_limit_status(endpoint)
    assert status["remaining"] == 0
    assert status["window_seconds"] == short_window
    next_slot = datetime.fromisoformat(status["next_slot_at"]).timestamp()
    assert server.hits("/hit")[0].at < next_slot <= time.time() + short_window


def test_endpoints_have_separate_budgets(server, short_window):
    busy = make_endpoint(server.url, rate_limit_per_minute=1)
    idle = make_endpoint(server.url, rate_limit_per_minute=1)
    get_client(busy).get("/hit")

    started = time.monotonic()
    get_client(idle).get("/hit")

    assert time.monotonic() - started < 0.5


def test_calls_go_through_unlimited_while_redis_is_unreachable(server, caplog):
    endpoint = make_endpoint(server.url, rate_limit_per_minute=1)
    ratelimit._health.last_warning = -1e9  # let it warn now
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        client = get_client(endpoint)
        client.get("/hit")
        client.get("/hit")
        assert rate_limit_status(endpoint)["remaining"] is None

    assert len(server.hits("/hit")) == 2
    assert "rate limits not enforced: Redis unavailable" in caplog.text
    ratelimit._health.down_until = 0.0
