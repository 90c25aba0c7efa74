"""A real daphne serving the test database, for socket and browser tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.helpers import free_port


@pytest.fixture
def daphne_url(subprocess_env, processes) -> str:
    return start_daphne(processes, subprocess_env)


def start_daphne(processes, env: dict[str, str]) -> str:
    """A daphne subprocess serving ``env``'s database; its base URL."""
    port = free_port()
    proc = processes.start(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1",
         "-p", str(port), "testenv.asgi:application"],
        env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=30, interval=0.2)
    return url


@pytest.fixture
def session_cookie(tester) -> str:
    from django.test import Client

    client = Client()
    client.force_login(tester)
    return client.cookies["sessionid"].value
