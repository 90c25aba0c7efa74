"""When to check what: claiming due endpoints, and one check per endpoint at a time.

The dispatcher (``integrations.dispatch_due_checks``, every 5 s from beat)
claims every enabled endpoint whose ``next_check_at`` falls within the next
``MONITOR_DISPATCH_LOOKAHEAD_SECONDS`` and sends one ``check_endpoint`` task
per due time with that time as its ETA, so checks start on schedule rather
than on the dispatcher's 5 s grid. The claim is one conditional UPDATE that
moves ``next_check_at`` forward only where it still holds the value the
dispatcher read (compare-and-set) and returns the ids it moved: two
dispatchers running at once split the endpoints between them and never send
one twice.

Schedules keep their phase (``next = due + interval``) instead of drifting by
the check's duration. A new endpoint, or one more than an interval overdue
(beat or the workers were down), is placed at a fixed per-endpoint phase of
the coming interval: after a restart every endpoint is checked within one
interval, no backlog is replayed, and the endpoints stay spread over the
interval instead of all falling due at the same instant.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from integrations import monitor_settings as conf
from integrations.models import IntegrationEndpoint
from testenv.redis import get_redis

logger = logging.getLogger(__name__)

CLAIM_CHUNK = 200
INFLIGHT_KEY = "testenv:monitor:{}:inflight"
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


@dataclass
class Claim:
    endpoint_id: int
    due_times: list[datetime]
    interval_seconds: int


def phase(endpoint_id: int) -> float:
    """A fixed fraction of the interval in [0, 1) for an endpoint (Knuth's
    multiplicative hash): spreads endpoints evenly across their interval."""
    return ((endpoint_id * 2654435761) % 2**32) / 2**32


def _plan(
    endpoint_id: int,
    old: datetime | None,
    interval: int,
    now: datetime,
    horizon: datetime,
) -> tuple[list[datetime], datetime]:
    """Due times within the horizon (maybe none) and the next one after them.

    An endpoint that is new, or overdue by more than an interval (beat or the
    workers were down), is placed at its phase within the coming interval
    (less a start-up margin when overdue): checked within one interval, and
    never all endpoints at the same instant (200 checks due at once would
    start up to seconds late on one worker).
    """
    step = timedelta(seconds=max(interval, 1))
    if old is not None and old > now - step:
        moment = old
    elif old is None:
        # New: its phase within the coming interval, so that endpoints created
        # together (or a fresh install) are spread over the whole interval.
        moment = now + step * phase(endpoint_id)
    else:
        # Long overdue (workers or beat were down): spread over the interval
        # less a margin, because this first dispatch after a restart already
        # comes seconds late (beat starting up) and every endpoint must still
        # be checked within one interval of the restart.
        margin = min(
            step / 2, timedelta(seconds=conf.get("MONITOR_RESTART_MARGIN_SECONDS"))
        )
        moment = now + (step - margin) * phase(endpoint_id)
    due_times = []
    while moment <= horizon:
        due_times.append(moment)
        moment += step
    return due_times, moment


def claim_due_checks(
    now: datetime | None = None,
    *,
    lookahead_seconds: float | None = None,
    batch: int | None = None,
) -> list[Claim]:
    """Claim the endpoints due before ``now + lookahead``; return what to send."""
    now = now or timezone.now()
    if lookahead_seconds is None:
        lookahead_seconds = conf.get("MONITOR_DISPATCH_LOOKAHEAD_SECONDS")
    horizon = now + timedelta(seconds=lookahead_seconds)
    candidates = list(
        IntegrationEndpoint.objects.filter(enabled=True)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=horizon))
        .order_by(F("next_check_at").asc(nulls_first=True))
        .values_list("id", "next_check_at", "check_interval_seconds")[
            : batch or conf.get("MONITOR_DISPATCH_BATCH")
        ]
    )
    plans: dict[int, tuple[datetime | None, datetime, Claim]] = {}
    for pk, old, interval in candidates:
        due_times, following = _plan(pk, old, interval, now, horizon)
        plans[pk] = (old, following, Claim(pk, due_times, interval))
    claimed: list[Claim] = []
    items = list(plans.items())
    for start in range(0, len(items), CLAIM_CHUNK):
        chunk = items[start : start + CLAIM_CHUNK]
        for pk in _compare_and_set(
            [(pk, old, following) for pk, (old, following, _) in chunk]
        ):
            claimed.append(plans[pk][2])
    return claimed


def _compare_and_set(
    rows: list[tuple[int, datetime | None, datetime]],
) -> list[int]:
    """Move ``next_check_at`` from old to new where it is still old; the ids moved.

    One statement with ``RETURNING`` (PostgreSQL, SQLite >= 3.35): the ORM's
    ``update()`` returns only a count, which cannot say which rows were won.
    """
    if not rows:
        return []
    meta = IntegrationEndpoint._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk_col = quote(meta.pk.column)
    col = quote(meta.get_field("next_check_at").column)
    adapt = connection.ops.adapt_datetimefield_value
    cases: list[str] = []
    conditions: list[str] = []
    set_params: list = []
    where_params: list = []
    for pk, old, new in rows:
        cases.append("WHEN %s THEN %s")
        set_params += [pk, adapt(new)]
        if old is None:
            conditions.append(f"({pk_col} = %s AND {col} IS NULL)")
            where_params.append(pk)
        else:
            conditions.append(f"({pk_col} = %s AND {col} = %s)")
            where_params += [pk, adapt(old)]
    sql = (
        f"UPDATE {table} SET {col} = CASE {pk_col} {' '.join(cases)} END "
        f"WHERE {' OR '.join(conditions)} RETURNING {pk_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, set_params + where_params)
        return [row[0] for row in cursor.fetchall()]


# -- one check per endpoint at a time ---------------------------------------------


def acquire_inflight(endpoint: IntegrationEndpoint) -> str | None:
    """Mark a scheduled check of ``endpoint`` as running; None if one already is.

    A hanging endpoint whose timeout is longer than its interval would
    otherwise pile up one stuck check per interval, each holding a worker
    thread. The mark expires on its own shortly after the check's deadline.
    Returns a token for ``release_inflight`` ("" when Redis is unreachable:
    the check runs unguarded rather than not at all).
    """
    token = uuid.uuid4().hex
    ttl_ms = (int(endpoint.timeout_seconds) + 15) * 1000
    try:
        acquired = get_redis().set(
            INFLIGHT_KEY.format(endpoint.pk), token, nx=True, px=ttl_ms
        )
    except Exception:
        logger.warning("in-flight mark of endpoint %s not set", endpoint.pk)
        return ""
    return token if acquired else None


def release_inflight(endpoint_id: int, token: str) -> None:
    if not token:
        return
    try:
        get_redis().register_script(_RELEASE)(
            keys=[INFLIGHT_KEY.format(endpoint_id)], args=[token]
        )
    except Exception:
        logger.warning("in-flight mark of endpoint %s not released", endpoint_id)
