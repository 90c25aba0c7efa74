"""The baseline of scenario 2: the least a health check can cost in Python.

One process, one thread, one ``requests.Session``: GET the simulator's
``/http/status`` and store one ``IntegrationHealthStatus`` row through the
Django ORM, nothing else (no broker, no scheduler, no alert state, no
dashboard event). It runs twice:

- unpaced: the endpoints back to back, for the throughput a bare loop
  reaches (how long it needs to check every endpoint once);
- paced: at the scenario's rate (endpoints / interval), sleeping until each
  check's due time, for the CPU per check and the start delay of a bare
  ``time.sleep`` scheduler on this machine at this moment.

    python -m bench.baseline_checks --url URL --ids 1,2,3 --unpaced 500 \
        --paced 500 --rate 25 --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench.common import percentile, rss_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_checks")
    parser.add_argument("--url", required=True)
    parser.add_argument("--ids", required=True, help="endpoint ids, comma-separated")
    parser.add_argument("--unpaced", type=int, required=True)
    parser.add_argument("--paced", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="checks per second")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    import django

    django.setup()
    import requests
    from django.utils import timezone

    from integrations.models import IntegrationHealthStatus

    ids = [int(x) for x in args.ids.split(",")]
    session = requests.Session()

    def check(index: int) -> None:
        started = time.perf_counter()
        response = session.get(args.url, timeout=10)
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        IntegrationHealthStatus.objects.create(
            endpoint_id=ids[index % len(ids)],
            status="HEALTHY" if response.ok else "UNHEALTHY",
            response_time_ms=elapsed_ms,
            status_code=response.status_code,
            checked_at=timezone.now(),
        )

    for index in range(20):  # warm-up: imports, the connection, the statements
        check(index)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    for index in range(args.unpaced):
        check(index)
    unpaced_cpu, unpaced_wall = time.process_time() - cpu0, time.perf_counter() - wall0

    lateness_ms = []
    step = 1.0 / args.rate
    cpu0 = time.process_time()
    start = time.perf_counter() + 0.05
    for index in range(args.paced):
        due = start + index * step
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lateness_ms.append((time.perf_counter() - due) * 1000.0)
        check(index)
    paced_cpu = time.process_time() - cpu0

    args.out.write_text(
        json.dumps(
            {
                "unpaced_checks": args.unpaced,
                "unpaced_seconds": unpaced_wall,
                "unpaced_cpu_ms_per_check": unpaced_cpu * 1000 / args.unpaced,
                "paced_checks": args.paced,
                "paced_cpu_ms_per_check": paced_cpu * 1000 / args.paced,
                "skew_p50_ms": percentile(lateness_ms, 50),
                "skew_p95_ms": percentile(lateness_ms, 95),
                "skew_p99_ms": percentile(lateness_ms, 99),
                "rss_bytes": rss_bytes(os.getpid()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
