"""Scenario 4: dashboard latency — health commit to WebSocket receive.

A ``websockets`` client logs in with a Django session cookie and connects to
``/testing/dashboard/ws`` on daphne (Origin header set, as a browser sends
it). Once the snapshot has arrived, another process
(``bench.dashboard_saver checks``) runs ``endpoint_check`` against the http
simulator (its own process) at a steady pace; each check's row is committed
and ``health_status_update`` goes through the Redis channel layer to daphne
and out on the socket. Latency per event = receive time at the client minus
the commit time the other process recorded (same machine, same clock).

Baseline: a bare Redis ``PUBLISH`` in another process to a ``SUBSCRIBE`` here,
same count and pace, same Redis server.
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.common import PYTHON, Row, Target, describe, log, percentile
from bench.fixtures import http_endpoints, session_cookie, tester
from bench.stack import (
    Context,
    start_simulators,
    start_web,
    wait_simulators,
    wait_web,
)

SCENARIO = "4 dashboard"


async def _receive_events(
    ctx: Context, web: str, cookie: str, start_saver, count: int, timeout: float
) -> dict[str, float]:
    from websockets.asyncio.client import connect

    uri = web.replace("http://", "ws://") + "/testing/dashboard/ws"
    received: dict[str, float] = {}
    async with connect(
        uri, origin=web, additional_headers={"Cookie": cookie}, max_size=None
    ) as socket:
        first = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if first.get("type") != "snapshot":
            raise RuntimeError(f"expected the snapshot first, got {first!r:.200}")
        start_saver()
        deadline = time.monotonic() + timeout
        while len(received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                raw = await asyncio.wait_for(socket.recv(), remaining)
            except TimeoutError:
                break
            now = time.time()
            event = json.loads(raw)
            if event.get("type") == "health_status_update":
                received[str(event["data"]["id"])] = now
    return received


def _redis_round_trips(ctx: Context, count: int, rate: float) -> list[float]:
    import redis

    channel = f"bench:pubsub:{time.time_ns()}"
    client = redis.Redis.from_url(ctx.redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    while pubsub.get_message(timeout=1.0) is None and not pubsub.subscribed:
        pass
    proc = ctx.processes.start(
        "publisher",
        [PYTHON, "-m", "bench.dashboard_saver", "publish", "--channel", channel,
         "--count", str(count), "--rate", str(rate)],
        ctx.env,
    )  # fmt: skip
    latencies = []
    deadline = time.monotonic() + count / rate + 30
    while len(latencies) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message and message["type"] == "message":
            now = time.time()
            latencies.append((now - json.loads(message["data"])["t"]) * 1000.0)
    proc.wait(30)
    pubsub.close()
    return latencies


def run(ctx: Context) -> list[Row]:
    count = 30 if ctx.quick else 300
    rate = 30.0 if ctx.quick else 10.0
    sim = start_simulators(ctx)
    env = {**ctx.env, "SIMULATOR_URL": sim}
    web = start_web(ctx, env)
    user = tester()
    cookie = session_cookie(user)
    [endpoint_id] = http_endpoints(
        1, f"{sim}/http/status", prefix="bench-dashboard", enabled=False
    )
    wait_simulators(ctx, sim)
    wait_web(ctx, web)

    out = ctx.run_dir / "saver.json"

    def start_saver() -> None:
        ctx.processes.start(
            "saver",
            [PYTHON, "-m", "bench.dashboard_saver", "checks",
             "--endpoint-id", str(endpoint_id), "--count", str(count),
             "--rate", str(rate), "--out", str(out)],
            env,
        )  # fmt: skip

    log(f"{count} health checks at {rate:g}/s while a dashboard socket listens")
    received = asyncio.run(
        _receive_events(ctx, web, cookie, start_saver, count, count / rate + 60)
    )
    saver = ctx.processes.procs["saver"]
    saver.wait(60)
    if saver.returncode != 0 or not out.exists():
        raise RuntimeError(f"the saver failed:\n{ctx.processes.log_tail('saver')}")
    saved = json.loads(out.read_text())
    commit_ms = [
        (received[pk] - at) * 1000.0
        for pk, at in saved["committed"].items()
        if pk in received
    ]
    checked_ms = [
        (received[pk] - at) * 1000.0
        for pk, at in saved["checked_at"].items()
        if pk in received
    ]
    missing = len(saved["committed"]) - len(commit_ms)

    log(f"baseline: {count} Redis PUBLISH -> SUBSCRIBE at {rate:g}/s")
    pubsub_ms = _redis_round_trips(ctx, count, rate)
    baseline = percentile(pubsub_ms, 95)
    ctx.info.update(
        events_saved=len(saved["committed"]),
        events_received=len(commit_ms),
        commit_to_receive_ms=describe(commit_ms),
        checked_at_to_receive_ms=describe(checked_ms),
        redis_pubsub_ms=describe(pubsub_ms),
    )
    what = "Redis PUBLISH (another process) -> SUBSCRIBE p95, same pace"
    return [
        Row.make(
            SCENARIO,
            "health commit -> WebSocket receive p95",
            percentile(commit_ms, 95) if not missing else float("nan"),
            "ms",
            Target("<", 250, "ms"),
            baseline,
            what,
            f"{len(commit_ms)} of {len(saved['committed'])} events received"
            + (f" ({missing} lost)" if missing else "")
            + f"; p50 {percentile(commit_ms, 50):.1f} ms, "
            f"p99 {percentile(commit_ms, 99):.1f} ms",
        ),
        Row.make(
            SCENARIO,
            "check stored (checked_at) -> WebSocket receive p95",
            percentile(checked_ms, 95),
            "ms",
            None,
            baseline,
            what,
            "includes the insert, alert bookkeeping and the commit",
        ),
    ]
