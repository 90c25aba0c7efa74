"""Starting the real processes of testenv the way ``make run`` starts them.

The worker's command line comes from ``testenv.launcher.worker_argv`` (thread
pool, concurrency 32) and beat's matches the launcher's, so the benchmark
measures what ``make run`` runs. Each process gets a port or a node name of
its own, so a benchmark can run beside a development stack.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    BIN,
    PYTHON,
    Processes,
    free_port,
    http_ok,
    wait_until,
)

HEARTBEAT_KEY_PREFIX = "testenv:worker-heartbeat:"  # testenv.celery


@dataclass
class Context:
    """What a scenario gets: its mode, its directory, the children's environment."""

    name: str
    quick: bool
    run_dir: Path
    env: dict[str, str]
    processes: Processes
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]


def start_simulators(ctx: Context, name: str = "simulators") -> str:
    """``manage.py simulate`` in its own process; returns its base URL."""
    port = free_port()
    ctx.processes.start(
        name, [PYTHON, "manage.py", "simulate", "--port", str(port)], ctx.env
    )
    return f"http://127.0.0.1:{port}"


def wait_simulators(ctx: Context, url: str, name: str = "simulators") -> None:
    wait_until(
        lambda: http_ok(f"{url}/_control"),
        60,
        "the simulators answering",
        check=lambda: ctx.processes.check_alive(name),
    )


def simulator_faults(url: str, service: str, **faults: Any) -> None:
    response = requests.post(f"{url}/_control/{service}/faults", json=faults, timeout=5)
    response.raise_for_status()


def start_web(ctx: Context, env: dict[str, str] | None = None) -> str:
    """daphne serving testenv.asgi (HTTP and the dashboard socket)."""
    port = free_port()
    ctx.processes.start(
        "web",
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port),
         "testenv.asgi:application"],
        env or ctx.env,
    )  # fmt: skip
    return f"http://127.0.0.1:{port}"


def wait_web(ctx: Context, base: str) -> None:
    wait_until(
        lambda: http_ok(f"{base}/healthz"),
        90,
        "daphne answering /healthz",
        check=lambda: ctx.processes.check_alive("web"),
    )


def worker_node_name(ctx: Context) -> str:
    return f"bench-{ctx.name}-{ctx.processes.log_dir.name}"


def start_worker(ctx: Context, env: dict[str, str] | None = None) -> str:
    """The Celery worker exactly as the launcher starts it, under a node name
    of its own (so that its heartbeat tells us when it is ready)."""
    from testenv.launcher import worker_argv

    env = env or ctx.env
    node = f"{worker_node_name(ctx)}-{int(time.time() * 1000) % 100000}"
    ctx.processes.start("worker", [*worker_argv(env), "-n", f"{node}@%h"], env)
    return node


def wait_worker(ctx: Context, node: str) -> None:
    """Until the worker's heartbeat (written on ``worker_ready``) is in Redis."""
    import redis

    client = redis.Redis.from_url(ctx.redis_url)
    key = f"{HEARTBEAT_KEY_PREFIX}{node}@{socket.gethostname()}"

    def ready() -> bool:
        if client.exists(key):
            return True
        return any(client.scan_iter(match=f"{HEARTBEAT_KEY_PREFIX}{node}@*"))

    wait_until(
        ready, 90, "the worker ready", check=lambda: ctx.processes.check_alive("worker")
    )


def start_beat(ctx: Context, env: dict[str, str] | None = None) -> None:
    """Beat with the database scheduler, as the launcher starts it."""
    ctx.processes.start(
        "beat",
        [
            str(BIN / "celery"), "-A", "testenv", "beat", "-l", "warning",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile=",
        ],
        env or ctx.env,
    )  # fmt: skip
