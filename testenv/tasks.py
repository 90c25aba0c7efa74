"""Project-wide periodic tasks."""

from __future__ import annotations

import time

from celery import shared_task

from testenv.redis import get_redis

BEAT_KEY = "testenv:beat:last-tick"


@shared_task(name="testenv.beat_tick", ignore_result=True)
def beat_tick() -> float:
    """Record that beat scheduled a task and a worker ran it (shown by /readyz)."""
    now = time.time()
    get_redis().set(BEAT_KEY, str(now), ex=3600)
    return now
