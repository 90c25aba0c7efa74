from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_manage_simulate_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "simulate", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "testenv.settings"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Simulators listening on http://127.0.0.1:"), first + (
            proc.stderr.read() if proc.poll() is not None else ""
        )
        url = first.rsplit(" ", 1)[-1].strip()
        lines = [proc.stdout.readline() for _ in range(9)]
        assert any(line.split()[-1] == f"{url}/yunite/api" for line in lines)
        assert requests.get(f"{url}/_control", timeout=5).status_code == 200
        assert requests.get(f"{url}/http/status", timeout=5).json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_simulators_import_without_django() -> None:
    code = (
        "import sys, integrations.simulators.server; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django'"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
