"""Liveness and readiness probes of testenv itself."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from testenv.celery import HEARTBEAT_KEY_PREFIX
from testenv.redis import get_redis


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_redis_and_worker() -> tuple[str | None, str | None, dict]:
    try:
        client = get_redis()
        client.ping()
        keys = list(client.scan_iter(match=HEARTBEAT_KEY_PREFIX + "*", count=100))
        beats = {
            key.decode()[len(HEARTBEAT_KEY_PREFIX) :]: float(value)
            for key, value in zip(keys, client.mget(keys) if keys else [], strict=True)
            if value is not None
        }
    except Exception as exc:
        return f"redis unreachable: {exc.__class__.__name__}: {exc}", None, {}
    now = time.time()
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    fresh = {
        name: round(now - ts, 1) for name, ts in beats.items() if now - ts <= max_age
    }
    if not fresh:
        return None, f"no worker heartbeat in the last {max_age} s", {}
    return None, None, fresh


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database, Redis and at least one Celery worker answer."""
    problems: dict[str, str] = {}
    if reason := _check_database():
        problems["database"] = reason
    redis_problem, worker_problem, workers = _check_redis_and_worker()
    if redis_problem:
        problems["redis"] = redis_problem
        problems["worker"] = "unknown: Redis is unreachable"
    elif worker_problem:
        problems["worker"] = worker_problem
    checks = {
        name: ("fail" if name in problems else "ok")
        for name in ("database", "redis", "worker")
    }
    body = {
        "status": "unready" if problems else "ready",
        "checks": checks,
        "workers": {
            name: {"heartbeat_age_seconds": age} for name, age in workers.items()
        },
    }
    if problems:
        body["reasons"] = problems
        return JsonResponse(body, status=503)
    return JsonResponse(body)


def home(request: HttpRequest):
    from django.shortcuts import redirect

    return redirect("/testing/dashboard" if _has_dashboard() else "/admin/")


def _has_dashboard() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("dashboard")
    except NoReverseMatch:
        return False
    return True
