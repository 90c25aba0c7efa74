"""Create or update, by name, the periodic tasks that the code owns.

A missing task is created with the defaults below. An existing one keeps what
an operator changed in the admin (interval, enabled, expiry, queue, ...):
only the task path is brought back in line, unless ``--reset`` is given.
Every schedule carries ``expire_seconds`` so that ticks queued while workers
were down are dropped instead of running late in a burst (django-celery-beat
ignores a plain ``expires`` option).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from integrations import monitor_settings as conf


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_seconds: int
    expire_seconds: int
    description: str
    queue: str | None = None


def owned_schedules() -> list[Schedule]:
    return [
        Schedule(
            "integrations: dispatch due health checks",
            "integrations.dispatch_due_checks",
            5,
            5,
            "Claims endpoints whose next check is due and queues one check each.",
            conf.get("MONITOR_QUEUE"),
        ),
        Schedule(
            "integrations: health retention",
            "integrations.apply_retention",
            3600,
            1800,
            "Keeps the newest raw health rows per endpoint; older ones become "
            "hourly aggregates.",
        ),
        Schedule(
            "feedback: reconcile GitHub issues",
            "feedback.reconcile_github",
            300,
            240,
            "Retries pending GitHub issue creation and refreshes issue states.",
        ),
        Schedule(
            "testenv: beat tick",
            "testenv.beat_tick",
            10,
            10,
            "Proves that beat schedules and a worker runs (shown by /readyz).",
        ),
    ]


class Command(BaseCommand):
    help = "Create or update the periodic tasks the code owns (by name)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Also restore interval, expiry, queue and enabled to the defaults.",
        )

    def handle(self, *args, reset: bool = False, **options) -> None:
        for schedule in owned_schedules():
            with transaction.atomic():
                verb = self._sync(schedule, reset)
            self.stdout.write(f"{verb}: {schedule.name} ({schedule.task})")

    def _sync(self, schedule: Schedule, reset: bool) -> str:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=schedule.every_seconds, period=IntervalSchedule.SECONDS
        )
        defaults = {
            "interval": interval,
            "task": schedule.task,
            "expire_seconds": schedule.expire_seconds,
            "queue": schedule.queue,
            "description": schedule.description,
            "enabled": True,
        }
        task = PeriodicTask.objects.filter(name=schedule.name).first()
        if task is None:
            PeriodicTask.objects.create(name=schedule.name, **defaults)
            return "created"
        changed = {"task": schedule.task} if task.task != schedule.task else {}
        if reset:
            changed = {
                key: value
                for key, value in defaults.items()
                if getattr(task, key) != value
            }
            # A crontab/solar/clocked schedule set by an operator would
            # otherwise coexist with the interval (beat refuses two).
            for other in ("crontab", "solar", "clocked"):
                if getattr(task, f"{other}_id") is not None:
                    changed[other] = None
        if not changed:
            return "unchanged"
        for key, value in changed.items():
            setattr(task, key, value)
        task.save()
        return "updated"
