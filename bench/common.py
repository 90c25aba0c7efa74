"""What every scenario shares: result rows, percentiles, /proc readings, processes.

Nothing here imports Django, so the orchestrator (``bench.cli``) can use it
before any database exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

_started = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    where = os.environ.get("BENCH_SCENARIO", "bench")
    elapsed = time.monotonic() - _started
    print(f"[{where} {elapsed:5.1f}s] {message}", file=sys.stderr)
    sys.stderr.flush()


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``value <op> limit``; ``op`` is one of <, <=, >=, ==."""

    op: str
    limit: float
    unit: str = ""

    def met(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return {
            "<": value < self.limit,
            "<=": value <= self.limit,
            ">=": value >= self.limit,
            "==": value == self.limit,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op} {fmt(self.limit)}{(' ' + self.unit) if self.unit else ''}"


@dataclass
class Row:
    """One line of the report: a metric, its target, and its same-run baseline.

    ``ratio`` is value / baseline: how many times the baseline's figure ours is.
    A row without a target is informational (``result`` "INFO").
    """

    scenario: str
    metric: str
    value: float | None
    unit: str
    target: str
    result: str
    baseline: float | None
    baseline_what: str
    ratio: float | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        scenario: str,
        metric: str,
        value: float | None,
        unit: str,
        target: Target | None,
        baseline: float | None,
        baseline_what: str,
        notes: str = "",
        **extra: Any,
    ) -> Row:
        ratio = (
            value / baseline
            if value is not None and baseline not in (None, 0)
            else None
        )
        result = "INFO" if target is None else "FAIL"
        if target is not None and target.met(value):
            result = "PASS"
        return cls(
            scenario,
            metric,
            value,
            unit,
            str(target) if target else "-",
            result,
            baseline,
            baseline_what,
            ratio,
            notes,
            extra,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with about ``digits`` significant digits, no exponent."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) >= 100:
        return str(int(value))
    magnitude = math.floor(math.log10(abs(value))) + 1 if value else 1
    decimals = max(0, digits - magnitude)
    return f"{value:.{decimals}f}"


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def describe(values: list[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max of a sample (for the JSON file)."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


# -- /proc -----------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """utime + stime of ``pid``, plus cutime + cstime (its reaped children)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After ")": state(0) ppid(1) pgrp(2) ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def server_cpu_seconds(pid: int) -> float:
    """A forking server's CPU: itself, its reaped children, its live children."""
    return cpu_seconds(pid) + sum(
        cpu_seconds(child, children=False) for child in children_of(pid)
    )


def group_cpu_seconds(pgid: int) -> float:
    """CPU of every live member of a process group, each with its reaped children."""
    return sum(cpu_seconds(pid) for pid in group_members(pgid))


def rss_bytes(pid: int) -> int:
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    return int(fields[21]) * PAGE_SIZE  # rss (pages) is field 24 of stat


def group_rss_bytes(pgid: int) -> int:
    return sum(rss_bytes(pid) for pid in group_members(pgid))


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def redis_server_pid(url: str) -> int | None:
    """The pid of the Redis server at ``url`` if it runs on this machine."""
    import redis

    try:
        info = redis.Redis.from_url(url, socket_timeout=5).info("server")
    except Exception:
        return None
    pid = int(info.get("process_id") or 0)
    return pid if pid and Path(f"/proc/{pid}").exists() else None


# -- processes -------------------------------------------------------------------

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _libc = None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: a SIGKILLed benchmark must not
    # leave daphne, workers or simulators behind. The libc handle is loaded
    # before the fork, so the child only makes one system call here.
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Processes:
    """Children in process groups of their own, logging to files; stopped at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, argv: list[str], env: dict[str, str]
    ) -> subprocess.Popen:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as handle:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.procs[name] = proc
        return proc

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def check_alive(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {proc.returncode}:\n"
                    f"{self.log_tail(name)}"
                )

    def stop(self, name: str, timeout: float = 15.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {timeout:.0f} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # Whatever the leader left in its group goes with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        names = list(reversed(self.procs))
        for name in names:
            proc = self.procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name in names:
            self.stop(name)


def raise_keyboard_interrupt_on_sigterm() -> None:
    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    check: Callable[[], None] | None = None,
) -> Any:
    """Poll ``predicate`` until truthy; ``check`` may raise (a process died)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


# -- HTTP ------------------------------------------------------------------------


class HttpClient:
    """One keep-alive HTTP/1.1 connection, timed per request (client CPU kept low)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.headers = dict(headers or {})
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.conn

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte read)."""
        payload = None
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):
            conn = self._connection()
            started = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


def http_ok(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Probe:
    """One kind of request of a latency run; ``build(i)`` gives method, path, body."""

    label: str
    build: Callable[[int], tuple[str, str, Any]]
    expect: int = 200


def measure_interleaved(
    client: HttpClient, probes: list[Probe], rounds: int, warmup: int = 5
) -> dict[str, list[float]]:
    """Milliseconds per request, per probe, sending the probes in turn.

    Taking turns puts the baseline and the measured requests under the same
    conditions (machine load, caches, the server's state) at every moment.
    A response with another status than ``expect`` is an error, not a sample.
    """
    samples: dict[str, list[float]] = {probe.label: [] for probe in probes}
    for index in range(warmup + rounds):
        for probe in probes:
            method, path, body = probe.build(index)
            status, data, seconds = client.request(method, path, body)
            if status != probe.expect:
                raise RuntimeError(
                    f"{probe.label}: {method} {path} answered {status}, expected "
                    f"{probe.expect}: {data[:300]!r}"
                )
            if index >= warmup:
                samples[probe.label].append(seconds * 1000.0)
    return samples
