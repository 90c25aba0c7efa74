"""Fixtures of the monitoring tests: simulators, endpoints, worker and beat."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from integrations.models import IntegrationEndpoint

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Simulator:
    """A SimulatorServer in this process, with helpers for the control API."""

    def __init__(self) -> None:
        from integrations.simulators.server import SimulatorServer

        self.server = SimulatorServer(host="127.0.0.1", port=0).start()
        self.url = self.server.url

    def faults(self, service: str = "http", **faults) -> None:
        response = requests.post(
            f"{self.url}/_control/{service}/faults", json=faults, timeout=5
        )
        assert response.status_code == 200, response.text

    def reset(self, service: str = "http") -> None:
        requests.post(f"{self.url}/_control/{service}/reset", timeout=5)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def sim():
    simulator = Simulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def second_sim():
    simulator = Simulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def make_endpoint():
    """Create a generic-http endpoint; its Redis state is dropped afterwards."""
    from integrations.alerts import forget_state

    created: list[int] = []

    def make(name: str, url: str, **fields) -> IntegrationEndpoint:
        fields.setdefault("kind", "http")
        fields.setdefault("timeout_seconds", 5)
        fields.setdefault("retry_attempts", 0)
        fields.setdefault("rate_limit_per_minute", 6000)
        endpoint = IntegrationEndpoint.objects.create(
            name=name, base_url=url, health_check_url=url, **fields
        )
        created.append(endpoint.pk)
        return endpoint

    yield make
    for pk in created:
        with contextlib.suppress(Exception):
            forget_state(pk)


@pytest.fixture
def quiet_notifications(settings, redis_client):
    """Notification tasks go to a queue of this test that nobody consumes."""
    queue = f"test-notify-{uuid.uuid4().hex[:8]}"
    settings.MONITOR_NOTIFY_QUEUE = queue
    yield queue
    redis_client.delete(queue)


class Processes:
    """Worker/beat subprocesses whose logs go to files (a busy worker would
    fill an unread pipe and block), stopped at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]):
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.started.append((proc, log))
        return proc

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU time used so far by the process started as ``name``."""
        for proc, log in self.started:
            if log.stem == name:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1]
                utime, stime = fields.split()[11:13]
                return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
        raise KeyError(name)

    def assert_running(self) -> None:
        for proc, log in self.started:
            assert proc.poll() is None, log.read_text()[-3000:]

    def stop(self) -> None:
        for proc, _ in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.started:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def monitor_stack(subprocess_env, tmp_path, redis_client):
    """Start a thread-pool worker and beat on a queue of this test's own.

    ``start(dispatch_every=1)`` runs sync_schedules, points the dispatcher at
    the private queue (the other owned schedules are disabled: they would go
    to the shared default queue) and starts both processes.
    """
    from django.core.management import call_command
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from integrations.management.commands.sync_schedules import owned_schedules

    queue = f"test-monitor-{uuid.uuid4().hex[:8]}"
    processes = Processes(tmp_path)
    env = {
        **subprocess_env,
        "DJANGO_SETTINGS_MODULE": "tests.monitoring.worker_settings",
        "TEST_MONITOR_QUEUE": queue,
    }

    class Stack:
        def start(self, dispatch_every: int = 1, concurrency: int = 32) -> None:
            call_command("sync_schedules", stdout=io.StringIO())
            dispatcher = owned_schedules()[0]
            every, _ = IntervalSchedule.objects.get_or_create(
                every=dispatch_every, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.filter(name=dispatcher.name).update(
                interval=every, queue=queue, expire_seconds=dispatch_every
            )
            PeriodicTask.objects.exclude(name=dispatcher.name).update(enabled=False)
            processes.start(
                "worker",
                [str(BIN / "celery"), "-A", "testenv", "worker", "-l", "warning",
                 "--pool", "threads", "--concurrency", str(concurrency),
                 "-Q", queue, "-n", f"{queue}@%h", "--without-mingle",
                 "--without-gossip"],
                env,
            )  # fmt: skip
            processes.start(
                "beat",
                [str(BIN / "celery"), "-A", "testenv", "beat", "-l", "warning",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                 "--pidfile=", "--max-interval", "1"],
                env,
            )  # fmt: skip

        assert_running = processes.assert_running
        cpu_seconds = processes.cpu_seconds

        def logs(self) -> str:
            return "\n".join(
                f"--- {log.name}\n{log.read_text()[-4000:]}"
                for _, log in processes.started
            )

    stack = Stack()
    stack.queue = queue
    yield stack
    processes.stop()
    redis_client.delete(queue)
