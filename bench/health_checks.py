"""Scenario 2: health checks at scale — CPU per check, start skew, restart, memory.

500 generic-http endpoints (``--quick``: 100) check the http simulator, which
runs in its own process, every 20 s (``--quick``: 5 s). The real stack runs:
daphne, the Celery worker exactly as the launcher starts it (thread pool, 32
threads) and beat with the database scheduler, whose dispatcher claims due
endpoints every 5 s and sends each check with its due time as ETA.

- **CPU per check**: utime + stime (``/proc/<pid>/stat``, with reaped
  children) of the worker, beat and the Redis server over a steady window of
  three intervals, divided by the health rows stored in that window.
- **Start skew**: what the scheduler records: ``check_endpoint`` receives the
  due time and ``endpoint_check`` stores ``metadata.schedule_skew_ms`` =
  start of the check minus due time; p95 over the window's rows.
- **Restart**: worker and beat are stopped for longer than one interval (every
  endpoint is then overdue), started again, and the endpoints with a check
  stored within one interval of the restart are counted.
- **Memory**: RSS of web + worker + beat (process groups), highest sample
  during the window.

Baseline (``bench.baseline_checks``): one process, ``requests.Session().get``
on the same simulator URL plus one ORM insert per check — CPU per check and
start delay when paced at the same rate, throughput when unpaced, its RSS.
Endpoint phases are spread evenly over the interval before the window, as
endpoints created over time would be.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.common import (
    PYTHON,
    HttpClient,
    Row,
    Target,
    cpu_seconds,
    describe,
    group_cpu_seconds,
    group_rss_bytes,
    log,
    percentile,
    redis_server_pid,
    server_cpu_seconds,
)
from bench.fixtures import api_token, http_endpoints, tester
from bench.stack import (
    Context,
    start_beat,
    start_simulators,
    start_web,
    start_worker,
    wait_simulators,
    wait_web,
    wait_worker,
)

SCENARIO = "2 health"
MB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    endpoints: int
    interval: int  # seconds between checks of one endpoint
    warmup: float  # seconds of checks before the measured window
    window: float  # seconds measured
    downtime: float  # seconds worker and beat stay stopped
    after_restart: bool  # also measure the interval after the restart's one
    unpaced: int  # baseline checks back to back
    paced: int  # baseline checks at the scenario's rate


FULL = Plan(500, 20, 20, 60, 25, True, 500, 500)
QUICK = Plan(100, 5, 1, 5, 1, False, 100, 25)


def _spread_phases(ids: list[int], interval: int, start: datetime) -> None:
    """Due times spread evenly over one interval from ``start``."""
    from django.db import transaction

    from integrations.models import IntegrationEndpoint

    step = interval / len(ids)
    with transaction.atomic():
        for index, pk in enumerate(ids):
            IntegrationEndpoint.objects.filter(pk=pk).update(
                next_check_at=start + timedelta(seconds=index * step)
            )


def _max_id() -> int:
    from integrations.models import IntegrationHealthStatus

    return (
        IntegrationHealthStatus.objects.order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )


def _rows_between(first_id: int, last_id: int) -> list[tuple[dict, str]]:
    from integrations.models import IntegrationHealthStatus

    return list(
        IntegrationHealthStatus.objects.filter(id__gt=first_id, id__lte=last_id)
        .values_list("metadata", "status")
        .iterator(chunk_size=2000)
    )


def _skews(rows: list[tuple[dict, str]]) -> list[float]:
    skews = []
    for metadata, _ in rows:
        if isinstance(metadata, str):  # a backend that hands back text
            metadata = json.loads(metadata)
        value = (metadata or {}).get("schedule_skew_ms")
        if value is not None:
            skews.append(float(value))
    return skews


def _phase_crowding() -> int:
    """The most endpoints due within one and the same second."""
    from integrations.models import IntegrationEndpoint

    seconds = Counter(
        int(moment.timestamp())
        for moment in IntegrationEndpoint.objects.filter(
            enabled=True, next_check_at__isnull=False
        ).values_list("next_check_at", flat=True)
    )
    return max(seconds.values()) if seconds else 0


def _first_checks_since(moment: datetime) -> dict[int, datetime]:
    from django.db.models import Min

    from integrations.models import IntegrationHealthStatus

    return {
        row["endpoint_id"]: row["first"]
        for row in IntegrationHealthStatus.objects.filter(checked_at__gte=moment)
        .values("endpoint_id")
        .annotate(first=Min("checked_at"))
    }


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's main process, if the database is PostgreSQL here."""
    from pathlib import Path

    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        stat = Path(f"/proc/{backend}/stat").read_text()
    except OSError:
        return None  # the server runs elsewhere
    return int(stat.rsplit(")", 1)[1].split()[1])


def _database_sessions() -> int | None:
    """Connections ever opened to this PostgreSQL database (PostgreSQL >= 14)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def _stop_together(ctx: Context, *names: str) -> None:
    import os
    import signal

    for name in names:
        if ctx.processes.alive(name):
            os.killpg(ctx.processes.pid(name), signal.SIGTERM)
    for name in names:
        ctx.processes.stop(name, timeout=30)


def run(ctx: Context) -> list[Row]:
    from django.core.management import call_command
    from django.utils import timezone

    plan = QUICK if ctx.quick else FULL
    sim = start_simulators(ctx)
    env = {**ctx.env, "SIMULATOR_URL": sim}
    url = f"{sim}/http/status"
    # Nothing is due until the stack is up; the phases are set afterwards.
    ids = http_endpoints(
        plan.endpoints,
        url,
        next_check_at=timezone.now() + timedelta(days=1),
        check_interval_seconds=plan.interval,
    )
    call_command("sync_schedules", stdout=io.StringIO())  # as `make run` does
    started = time.monotonic()
    web = start_web(ctx, env)
    node = start_worker(ctx, env)
    start_beat(ctx, env)
    token = api_token(tester())
    wait_simulators(ctx, sim)
    wait_web(ctx, web)
    wait_worker(ctx, node)
    log(f"stack up after {time.monotonic() - started:.1f} s")
    client = HttpClient(web, {"Authorization": f"Token {token}"})
    for path in ("/testing/integrations", f"/testing/integrations/{ids[0]}"):
        client.request("GET", path)  # load the API code, as a first visitor does
    client.close()

    _spread_phases(ids, plan.interval, timezone.now() + timedelta(seconds=1))
    log(
        f"{plan.endpoints} endpoints every {plan.interval} s; warming up "
        f"{plan.warmup:.0f} s, then measuring {plan.window:.0f} s"
    )
    time.sleep(1 + plan.warmup)

    redis_pid = redis_server_pid(ctx.redis_url)
    postmaster = _postmaster_pid()
    pgids = {name: ctx.processes.pid(name) for name in ("web", "worker", "beat")}

    def cpu() -> dict[str, float]:
        reading = {
            "worker": group_cpu_seconds(pgids["worker"]),
            "beat": group_cpu_seconds(pgids["beat"]),
            "web (not counted)": group_cpu_seconds(pgids["web"]),
        }
        reading["redis"] = cpu_seconds(redis_pid) if redis_pid else 0.0
        if postmaster:
            reading["postgresql (not counted)"] = server_cpu_seconds(postmaster)
        return reading

    first_id, cpu0, sessions0 = _max_id(), cpu(), _database_sessions()
    window_end = time.monotonic() + plan.window
    rss_peak, rss_split = 0, {}
    while time.monotonic() < window_end:
        ctx.processes.check_alive("web", "worker", "beat", "simulators")
        split = {name: group_rss_bytes(pgid) for name, pgid in pgids.items()}
        if sum(split.values()) > rss_peak:
            rss_peak, rss_split = sum(split.values()), split
        time.sleep(min(1.0, max(0.0, window_end - time.monotonic())))
    cpu1, last_id, sessions1 = cpu(), _max_id(), _database_sessions()
    crowding_before = _phase_crowding()

    rows = _rows_between(first_id, last_id)
    checks = len(rows)
    spent = {name: cpu1[name] - cpu0[name] for name in cpu0}
    counted = sum(v for k, v in spent.items() if "not counted" not in k)
    cpu_ms = counted * 1000 / checks if checks else float("nan")
    skews = _skews(rows)
    not_healthy = sum(1 for _, status in rows if status != "HEALTHY")
    expected = round(plan.endpoints * plan.window / plan.interval)
    log(f"{checks} checks in the window (expected about {expected})")

    # -- restart: stopped longer than an interval, every endpoint overdue ----
    _stop_together(ctx, "worker", "beat")
    log(f"worker and beat stopped; restarting in {plan.downtime:.0f} s")
    time.sleep(plan.downtime)
    restart_at = timezone.now()
    restarted = time.monotonic()
    node = start_worker(ctx, env)
    start_beat(ctx, env)
    wait_worker(ctx, node)
    worker_boot = time.monotonic() - restarted
    grace = 1 if ctx.quick else 2  # for the checks still committing
    time.sleep(max(0.0, restarted + plan.interval + grace - time.monotonic()))
    firsts = _first_checks_since(restart_at)
    deadline = restart_at + timedelta(seconds=plan.interval)
    covered = sum(1 for moment in firsts.values() if moment <= deadline)
    first_after = (
        (min(firsts.values()) - restart_at).total_seconds() if firsts else None
    )
    all_after = None
    give_up = restarted + (2 if ctx.quick else 4) * plan.interval
    while True:
        if len(firsts) >= plan.endpoints:
            all_after = (max(firsts.values()) - restart_at).total_seconds()
            break
        if time.monotonic() > give_up:
            break
        time.sleep(1)
        firsts = _first_checks_since(restart_at)
    burst_rows = _rows_between(last_id, _max_id())
    after_restart_skews: list[float] = []
    crowding_after = _phase_crowding()
    if plan.after_restart:
        # Skew in a later interval: are the phases still spread, or did the
        # restart bunch every endpoint into one burst per interval?
        mark = _max_id()
        time.sleep(plan.interval)
        after_restart_skews = _skews(_rows_between(mark, _max_id()))
    _stop_together(ctx, "worker", "beat")

    # -- baseline: a bare loop in one process, same simulator, same database --
    log("baseline: a bare requests + ORM insert loop")
    out = ctx.run_dir / "baseline_checks.json"
    database0 = server_cpu_seconds(postmaster) if postmaster else 0.0
    proc = ctx.processes.start(
        "baseline",
        [
            PYTHON,
            "-m",
            "bench.baseline_checks",
            "--url", url,
            "--ids", ",".join(map(str, ids)),
            "--unpaced", str(plan.unpaced),
            "--paced", str(plan.paced),
            "--rate", str(plan.endpoints / plan.interval),
            "--out", str(out),
        ],
        env,
    )  # fmt: skip
    proc.wait(300)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"baseline failed:\n{ctx.processes.log_tail('baseline')}")
    base = json.loads(out.read_text())
    if postmaster:
        base["postgresql_cpu_ms_per_check"] = (
            (server_cpu_seconds(postmaster) - database0)
            * 1000
            / (20 + base["unpaced_checks"] + base["paced_checks"])
        )
    per_interval = min(
        plan.endpoints,
        int(plan.interval / (base["unpaced_seconds"] / base["unpaced_checks"])),
    )

    ctx.info.update(
        checks=checks,
        expected_checks=expected,
        not_healthy=not_healthy,
        cpu_seconds=spent,
        skew_ms=describe(skews),
        rss_peak_bytes=rss_split,
        restart={
            "downtime_seconds": plan.downtime,
            "worker_boot_seconds": round(worker_boot, 2),
            "covered_within_interval": covered,
            "first_check_after_seconds": first_after,
            "first_check_delay_seconds": describe(
                [(moment - restart_at).total_seconds() for moment in firsts.values()]
            ),
            "all_checked_after_seconds": all_after,
            "burst_skew_ms": describe(_skews(burst_rows)),
            "after_restart_skew_ms": describe(after_restart_skews),
            "phase_crowding_before": crowding_before,
            "phase_crowding_after": crowding_after,
        },
        baseline=base,
    )
    split_text = ", ".join(f"{name} {value:.2f} s" for name, value in spent.items())
    rows_out = [
        Row.make(
            SCENARIO,
            f"CPU per check, worker+beat+Redis ({plan.endpoints} endpoints / "
            f"{plan.interval} s)",
            cpu_ms,
            "ms",
            Target("<=", 4.8, "ms"),
            base["paced_cpu_ms_per_check"],
            "one process: requests.Session().get on the same simulator + one ORM "
            "insert per check, paced at the same rate (CPU ms per check)",
            f"{checks} checks stored in {plan.window:.0f} s (expected ~{expected}), "
            f"{not_healthy} not HEALTHY; CPU: {split_text}",
        ),
        Row.make(
            SCENARIO,
            "check start skew p95 (metadata.schedule_skew_ms)",
            percentile(skews, 95),
            "ms",
            Target("<", 100, "ms"),
            base["skew_p95_ms"],
            "the bare loop's start delay p95 when sleeping until each due time",
            f"{len(skews)} checks; p50 {percentile(skews, 50):.1f} ms, "
            f"p99 {percentile(skews, 99):.1f} ms",
        ),
        Row.make(
            SCENARIO,
            f"endpoints checked within one interval ({plan.interval} s) of a restart",
            covered,
            "",
            Target(">=", plan.endpoints),
            per_interval,
            "endpoints the bare loop checks back to back in one interval "
            f"({base['unpaced_seconds']:.1f} s for {base['unpaced_checks']})",
            f"down {plan.downtime:.0f} s"
            + (" (every endpoint overdue)" if plan.downtime > plan.interval else "")
            + f"; worker ready {worker_boot:.1f} s after the restart, first check "
            + (f"after {first_after:.1f} s; " if first_after is not None else "never; ")
            + (
                f"all {plan.endpoints} checked {all_after:.1f} s after it"
                if all_after is not None
                else f"only {len(firsts)} checked by the end of the wait"
            ),
        ),
        Row.make(
            SCENARIO,
            "memory: RSS of web + worker + beat (peak)",
            rss_peak / MB,
            "MB",
            Target("<", 300, "MB"),
            base["rss_bytes"] / MB,
            "RSS of the one-process bare loop (Django + requests)",
            ", ".join(f"{k} {v / MB:.0f} MB" for k, v in rss_split.items()),
        ),
    ]
    if postmaster:
        database_ms = spent["postgresql (not counted)"] * 1000 / checks
        rows_out.append(
            Row.make(
                SCENARIO,
                "CPU per check including the PostgreSQL server",
                cpu_ms + database_ms,
                "ms",
                None,
                base["paced_cpu_ms_per_check"] + base["postgresql_cpu_ms_per_check"],
                "the bare loop's CPU per check plus the PostgreSQL server's during "
                "its run",
                f"the server's share: {database_ms:.2f} ms per check, measured on "
                "the whole server (other clients of it included); "
                f"{(sessions1 - sessions0) / checks:.2f} connections opened per check",
            )
        )
    if plan.after_restart:
        rows_out.append(
            Row.make(
                SCENARIO,
                "start skew p95 one interval after the restart",
                percentile(after_restart_skews, 95),
                "ms",
                None,
                base["skew_p95_ms"],
                "the bare loop's start delay p95 when sleeping until each due time",
                f"most endpoints due in one second: {crowding_before} before the "
                f"restart, {crowding_after} after it",
            )
        )
    return rows_out
