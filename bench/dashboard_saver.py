"""The other process of scenario 4: health checks that commit, or bare PUBLISHes.

python -m bench.dashboard_saver checks --endpoint-id 1 --count 300 --rate 10 --out F
    runs ``integrations.services.endpoint_check`` (probe, insert, alerts,
    broadcast after commit) at ``rate`` per second and writes, per stored
    row id, the moment of its commit: ``testenv.realtime.send_now`` is the
    transaction's on-commit callback, so its entry is the commit plus
    nothing but the callbacks queued before it.

python -m bench.dashboard_saver publish --channel C --count 300 --rate 10
    PUBLISHes ``{"i": n, "t": time.time()}`` on a Redis channel at the
    same pace (the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _paced(count: int, rate: float):
    step = 1.0 / rate
    start = time.perf_counter()
    for index in range(count):
        delay = start + index * step - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield index


def checks(endpoint_id: int, count: int, rate: float, out: Path) -> None:
    import django

    django.setup()
    from integrations.models import IntegrationEndpoint
    from integrations.services import endpoint_check
    from testenv import realtime

    committed: dict[str, float] = {}
    checked_at: dict[str, float] = {}
    original = realtime.send_now

    def send_now(event_type, data, **options):
        if event_type == "health_status_update":
            committed[str(data["id"])] = time.time()
        return original(event_type, data, **options)

    realtime.send_now = send_now
    endpoint = IntegrationEndpoint.objects.get(pk=endpoint_id)
    for _ in _paced(count, rate):
        row = endpoint_check(endpoint)
        checked_at[str(row.pk)] = row.checked_at.timestamp()
    if hasattr(realtime, "flush_events"):  # events leave before the process ends
        realtime.flush_events()
    out.write_text(json.dumps({"committed": committed, "checked_at": checked_at}))


def publish(channel: str, count: int, rate: float) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.ping()
    for index in _paced(count, rate):
        client.publish(channel, json.dumps({"i": index, "t": time.time()}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_saver")
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("checks")
    one.add_argument("--endpoint-id", type=int, required=True)
    one.add_argument("--out", type=Path, required=True)
    two = sub.add_parser("publish")
    two.add_argument("--channel", required=True)
    for each in (one, two):
        each.add_argument("--count", type=int, required=True)
        each.add_argument("--rate", type=float, required=True)
    args = parser.parse_args(argv)
    if args.mode == "checks":
        checks(args.endpoint_id, args.count, args.rate, args.out)
    else:
        publish(args.channel, args.count, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
