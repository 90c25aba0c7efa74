"""The launcher stops what it started, even when told twice in a hurry."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis

from tests.conftest import wait_until
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_with_redis_starts_the_embedded_redis_and_stops_it_on_two_sigterms(
    tmp_path,
):
    port = free_port()
    env = {
        **os.environ,
        "EMBEDDED_REDIS_PORT": str(port),
        "TESTENV_VAR_DIR": str(tmp_path),
    }
    env.pop("REDIS_URL", None)
    child = (
        "import os, time; print(os.environ['REDIS_URL'], flush=True); time.sleep(60)"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "testenv.launcher", "with-redis", "--",
         sys.executable, "-c", child],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "embedded Redis" in launcher.stdout.readline()
        url = launcher.stdout.readline().strip()
        assert url == f"redis://127.0.0.1:{port}/0"
        assert redis.Redis.from_url(url).ping()
        launcher.send_signal(signal.SIGTERM)
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(20) != 0
        assert wait_until(lambda: not listening(port), timeout=10)
    finally:
        if launcher.poll() is None:
            launcher.kill()
