"""The Celery application, and the worker heartbeat that /readyz looks for."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testenv.settings")

app = Celery("testenv")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Project-level tasks live outside the apps that autodiscovery scans.
app.conf.imports = ("testenv.tasks",)

logger = logging.getLogger(__name__)

HEARTBEAT_KEY_PREFIX = "testenv:worker-heartbeat:"
_stop_heartbeat = threading.Event()


def _heartbeat_loop(hostname: str) -> None:
    from django.conf import settings

    from testenv.redis import get_redis

    interval = settings.WORKER_HEARTBEAT_SECONDS
    ttl = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    key = HEARTBEAT_KEY_PREFIX + hostname
    while not _stop_heartbeat.is_set():
        try:
            get_redis().set(key, str(time.time()), ex=ttl)
        except Exception:  # Redis away: /readyz will say so; keep trying.
            logger.warning("worker heartbeat could not reach Redis", exc_info=True)
        _stop_heartbeat.wait(interval)


@worker_ready.connect
def start_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    _stop_heartbeat.clear()
    thread = threading.Thread(
        target=_heartbeat_loop, args=(hostname,), name="heartbeat", daemon=True
    )
    thread.start()


@worker_shutdown.connect
def stop_heartbeat(**kwargs) -> None:
    _stop_heartbeat.set()
