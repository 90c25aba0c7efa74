"""``python -m bench``: run the scenarios, print the table, write the JSON.

Needs ``REDIS_URL`` (``make bench`` runs it under ``testenv.launcher with-redis``,
which starts a private embedded Redis). Each scenario runs in a process of its
own (``bench.scenario``) with a fresh database and its own Redis database
number, flushed before and after.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import PYTHON, ROOT, Row, fmt, loadavg, log
from bench.database import Databases
from bench.scenario import SCENARIOS

ORDER = ("feedback", "health", "api", "dashboard")
DEFAULT_JSON = ROOT / "var" / "bench" / "results.json"
# Redis database numbers of the scenarios (base + position): a scenario's
# Celery queues, channel groups and monitor state never meet another's, nor a
# developer's on database 0 of a shared server.
REDIS_DB_BASE = 11


def redis_url_for(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_timeout=10).flushdb()


def base_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "testenv.settings")
    env.update(
        DJANGO_DEBUG="1" if args.debug else "0",
        # Feedback is throttled per user (60/min by default); the benchmark
        # measures the request, not the throttle's refusal.
        THROTTLE_FEEDBACK=env.get("BENCH_THROTTLE_FEEDBACK", "1000000/min"),
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    env.setdefault(
        "FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    # The development stack's GitHub settings must not leak into a scenario.
    for name in ("GITHUB_TOKEN", "GITHUB_REPO", "GITHUB_API_URL", "SIMULATOR_URL"):
        env.pop(name, None)
    return env


def git_revision() -> dict[str, object]:
    """The commit measured, and whether the working tree differed from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "modified_files": len(changed)}  # fmt: skip


def print_table(rows: list[Row]) -> None:
    headers = ["scenario", "metric", "value", "target", "baseline", "ratio", "result"]
    lines = []
    for row in rows:
        unit = f" {row.unit}" if row.unit else ""
        lines.append(
            [
                row.scenario,
                row.metric,
                f"{fmt(row.value)}{unit}" if row.value is not None else "-",
                row.target,
                f"{fmt(row.baseline)}{unit}" if row.baseline is not None else "-",
                f"{row.ratio:.2f}x" if row.ratio is not None else "-",
                row.result,
            ]
        )
    widths = [
        max(len(headers[i]), *(len(line[i]) for line in lines)) if lines else 8
        for i in range(len(headers))
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    sys.stdout.flush()


def print_baselines(rows: list[Row]) -> None:
    print("\nbaselines (measured in this run):")
    seen = set()
    for row in rows:
        if row.baseline_what and (row.scenario, row.baseline_what) not in seen:
            seen.add((row.scenario, row.baseline_what))
            print(f"  {row.scenario}: {row.baseline_what}")
    notes = [row for row in rows if row.notes]
    if notes:
        print("\nnotes:")
        for row in notes:
            print(f"  {row.scenario} / {row.metric}: {row.notes}")


def run_scenario(
    name: str,
    position: int,
    args: argparse.Namespace,
    env: dict[str, str],
    databases: Databases,
    run_dir: Path,
) -> dict:
    scenario_dir = run_dir / name
    scenario_dir.mkdir(parents=True, exist_ok=True)
    redis_url = redis_url_for(env["REDIS_URL"], REDIS_DB_BASE + position)
    flush_redis(redis_url)
    scenario_env = {
        **env,
        "DATABASE_URL": databases.for_scenario(name),
        "REDIS_URL": redis_url,
        "TESTENV_VAR_DIR": str(scenario_dir),
        "BENCH_SCENARIO": name,
    }
    out = scenario_dir / "result.json"
    argv = [PYTHON, "-m", "bench.scenario", name, "--out", str(out)]
    argv += ["--run-dir", str(scenario_dir)]
    if args.quick:
        argv.append("--quick")
    started = time.monotonic()
    # Same process group as us: a Ctrl-C in the terminal reaches the scenario,
    # which then stops the processes it started.
    proc = subprocess.Popen(argv, cwd=ROOT, env=scenario_env)
    try:
        proc.wait()
    except KeyboardInterrupt:
        # The scenario got the Ctrl-C too and is stopping its processes.
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    finally:
        try:
            flush_redis(redis_url)
        except Exception as exc:
            log(f"could not flush Redis database {redis_url}: {exc}")
    seconds = time.monotonic() - started
    if out.exists():
        result = json.loads(out.read_text())
    else:
        result = {"rows": [], "error": f"exited with status {proc.returncode}"}
    result["seconds"] = round(seconds, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="The performance targets of SPEC.md §6, measured against "
        "same-run baselines (docs/benchmark.md).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run that ends within a minute"
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated scenarios to run (of {', '.join(ORDER)})",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="run with DJANGO_DEBUG=1 like a development `make run` "
        "(default: production settings, DJANGO_DEBUG=0)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument(
        "--keep", action="store_true", help="keep the run directory (logs, databases)"
    )
    args = parser.parse_args(argv)

    if not os.environ.get("REDIS_URL"):
        print(
            "REDIS_URL is not set: run `make bench`, or "
            "`python -m testenv.launcher with-redis -- python -m bench`.",
            file=sys.stderr,
        )
        return 2
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(
        ORDER
    )
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    run_dir = Path(tempfile.mkdtemp(prefix="testenv-bench-"))
    env = base_env(args)
    databases = Databases(run_dir, env)
    started_at = datetime.now(UTC)
    load_before = loadavg()
    log(
        f"{'quick' if args.quick else 'full'} run of {', '.join(chosen)}; "
        f"database: {databases.vendor}; run directory {run_dir}"
    )
    rows: list[Row] = []
    scenarios: dict[str, dict] = {}
    failed = False
    interrupted = False
    try:
        for name in chosen:
            log(f"scenario {name}")
            result = run_scenario(
                name, ORDER.index(name), args, env, databases, run_dir
            )
            scenario_rows = [Row(**row) for row in result.get("rows", [])]
            if result.get("error"):
                failed = True
                scenario_rows.append(
                    Row.make(name, "scenario error", None, "", None, None, "")
                )
                scenario_rows[-1].result = "ERROR"
                scenario_rows[-1].notes = result["error"]
            rows.extend(scenario_rows)
            scenarios[name] = {
                "seconds": result.get("seconds"),
                "error": result.get("error"),
                "info": result.get("info", {}),
            }
            log(f"scenario {name} done in {result.get('seconds')} s")
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted")
    finally:
        databases.close()

    print()
    print_table(rows)
    print_baselines(rows)
    counts = {
        key: sum(1 for row in rows if row.result == key)
        for key in ("PASS", "FAIL", "INFO", "ERROR")
    }
    missed = [f"{row.scenario}: {row.metric}" for row in rows if row.result == "FAIL"]
    print(
        f"\nsummary: {counts['PASS']} targets met, {counts['FAIL']} missed"
        + (f", {counts['ERROR']} scenario errors" if counts["ERROR"] else "")
        + f" ({'quick' if args.quick else 'full'} run, {databases.vendor}, "
        f"{os.cpu_count()} cores, load average before {load_before[0]:.2f})"
    )
    for item in missed:
        print(f"  missed: {item}")

    document = {
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "mode": "quick" if args.quick else "full",
        "git": git_revision(),
        "interrupted": interrupted,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "settings": {
            "database": databases.vendor,
            "DJANGO_SETTINGS_MODULE": env["DJANGO_SETTINGS_MODULE"],
            "DJANGO_DEBUG": env["DJANGO_DEBUG"],
            "DATABASE_CONN_MAX_AGE": env.get("DATABASE_CONN_MAX_AGE", "0"),
            "THROTTLE_FEEDBACK": env["THROTTLE_FEEDBACK"],
        },
        "summary": counts,
        "rows": [row.to_json() for row in rows],
        "scenarios": scenarios,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.json}")
    if args.keep or failed:
        print(f"logs and databases kept in {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if interrupted:
        return 130
    return 1 if failed else 0
