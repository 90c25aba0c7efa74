"""Shared fixtures: personas, API clients, Redis, subprocesses."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from testenv.roles import PRODUCT_OWNERS, TESTERS


def pytest_configure(config) -> None:
    """Give this test run its own channel-layer prefix and Celery queue.

    Other runs (and a running testenv) may share the Redis server; without
    this a dashboard socket here would receive their events and a worker here
    would take their tasks. Subprocesses get the same names (subprocess_env).
    """
    from django.conf import settings

    from testenv.celery import app

    run = f"test-{os.getpid()}"
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"testenv:{run}"
    settings.CELERY_TASK_DEFAULT_QUEUE = run
    app.conf.task_default_queue = run


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Personas are created with passwords in most tests; PBKDF2 costs about a
    # third of a second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Throttle counters in this process's memory: other test runs share Redis.
    settings.API_THROTTLE_CACHE = "default"


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_user(
        "olivia-operator", "olivia@example.org", "pw-operator-1", is_staff=True
    )


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root-op", "root@example.org", "pw-root-1")


@pytest.fixture
def tester(db) -> User:
    user = User.objects.create_user("tom-tester", "tom@example.org", "pw-tester-1")
    user.groups.add(Group.objects.get_or_create(name=TESTERS)[0])
    return user


@pytest.fixture
def second_tester(db) -> User:
    user = User.objects.create_user("tina-tester", "tina@example.org", "pw-tester-2")
    user.groups.add(Group.objects.get_or_create(name=TESTERS)[0])
    return user


@pytest.fixture
def product_owner(db) -> User:
    user = User.objects.create_user("pat-owner", "pat@example.org", "pw-owner-1")
    user.groups.add(Group.objects.get_or_create(name=PRODUCT_OWNERS)[0])
    return user


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user("oscar-outsider", "oscar@example.org", "pw-out-1")


def _client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def tester_client(tester) -> APIClient:
    return _client_for(tester)


@pytest.fixture
def operator_client(operator) -> APIClient:
    return _client_for(operator)


@pytest.fixture
def owner_client(product_owner) -> APIClient:
    return _client_for(product_owner)


@pytest.fixture
def redis_client():
    from testenv.redis import get_redis

    client = get_redis()
    client.ping()
    return client


@pytest.fixture
def subprocess_env(transactional_db) -> dict[str, str]:
    """Environment for a worker/beat/daphne subprocess that must see the test DB."""
    import os

    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        env["DATABASE_URL"] = (
            f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
            f"/{db['NAME']}"
        )
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "testenv.settings"
    env["CHANNEL_LAYER_PREFIX"] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    env["CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    return env


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def processes():
    """Start subprocesses (``processes.start(argv, env)``); all stopped at teardown."""
    import os
    import signal
    import subprocess
    from pathlib import Path

    started: list[subprocess.Popen] = []
    root = Path(__file__).resolve().parent.parent

    class Starter:
        def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
            proc = subprocess.Popen(
                argv, cwd=root, env=env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            started.append(proc)
            return proc

    yield Starter()
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
