"""A real Celery worker runs a task that a real beat scheduled, over real Redis."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from testenv.tasks import BEAT_KEY
from tests.conftest import wait_until

BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_beat_scheduled_task_and_readyz_sees_it(
    subprocess_env, processes, redis_client, client
):
    # A queue of this test's own: other test runs may share the Redis server.
    queue = f"test-{uuid.uuid4().hex[:8]}"
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.create(
        name=f"beat tick {queue}",
        task="testenv.beat_tick",
        interval=every_second,
        queue=queue,
        expire_seconds=10,
    )
    redis_client.delete(BEAT_KEY)
    worker = processes.start(
        [str(BIN / "celery"), "-A", "testenv", "worker", "--pool", "solo",
         "-Q", queue, "-n", f"{queue}@%h", "-l", "warning"],
        subprocess_env,
    )  # fmt: skip
    beat = processes.start(
        [str(BIN / "celery"), "-A", "testenv", "beat", "-l", "warning",
         "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--pidfile=", "--max-interval", "1"],
        subprocess_env,
    )  # fmt: skip

    def ticked():
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        assert beat.poll() is None, beat.stderr.read().decode()[-2000:]
        return redis_client.get(BEAT_KEY)

    assert float(wait_until(ticked, timeout=60, interval=0.5)) > 0

    def ready():
        response = client.get("/readyz")
        return response.status_code == 200 and any(
            name.startswith(queue) for name in response.json()["workers"]
        )

    assert wait_until(ready, timeout=30, interval=0.5)
