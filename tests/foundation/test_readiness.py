"""/healthz and /readyz against a real Redis that the test starts and stops."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from django.test import override_settings

from testenv.celery import HEARTBEAT_KEY_PREFIX
from testenv.launcher import redis_server_binary
from tests.conftest import wait_until
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, so that stopping it harms nobody."""
    port = free_port()
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, 10)
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0"):
        yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def beat_now(client) -> None:
    client.set(HEARTBEAT_KEY_PREFIX + "worker-a@test", str(time.time()), ex=30)


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_database_redis_and_a_fresh_heartbeat(client, own_redis):
    from testenv.redis import get_redis

    beat_now(get_redis())
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "ok"}
    assert "worker-a@test" in body["workers"]


def test_readyz_says_503_without_a_worker_heartbeat(client, own_redis):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["worker"] == "fail"
    assert "no worker heartbeat" in body["reasons"]["worker"]


@override_settings(WORKER_HEARTBEAT_MAX_AGE_SECONDS=5)
def test_readyz_ignores_a_stale_heartbeat(client, own_redis):
    from testenv.redis import get_redis

    get_redis().set(HEARTBEAT_KEY_PREFIX + "old@test", str(time.time() - 60), ex=600)
    assert client.get("/readyz").status_code == 503


def test_readyz_turns_503_when_redis_is_stopped(client, own_redis):
    from testenv.redis import get_redis

    beat_now(get_redis())
    assert client.get("/readyz").status_code == 200
    own_redis.terminate()
    own_redis.wait(10)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "fail"
    assert "redis unreachable" in body["reasons"]["redis"]
    assert body["checks"]["database"] == "ok"
