"""Alerts that people can trust: hysteresis, flap folding, learned latency baselines.

Every check feeds ``evaluate`` one observation. Per endpoint and alert kind it
keeps a ring of the last checks' conditions (is it failing? rate limited?
slower than 3x its baseline?) and decides:

- **open** when the condition held for ``endpoint.failure_threshold`` checks
  in a row (default 2), or while the endpoint is *flapping*;
- **resolve** after ``endpoint.recovery_threshold`` good checks in a row
  (default 2), or ``MONITOR_FLAP_STABLE_CHECKS`` when the alert flapped;
- **fold flapping**: an endpoint whose condition changed at least
  ``MONITOR_FLAP_CHANGES`` times within the last ``MONITOR_FLAP_WINDOW`` checks
  is flapping; an alert that opens again within ``MONITOR_REOPEN_SECONDS`` of
  its resolution is the same incident, re-opened rather than duplicated.

LATENCY compares the p95 (nearest rank) of the last ``MONITOR_LATENCY_WINDOW``
answered checks, once the window is full, with a learned baseline: the window
median, followed by an EWMA that stops learning while the p95 is in breach or
the alert is open (a slowdown is never learned as the new normal while it is
being reported). A breach also needs ``MONITOR_LATENCY_MIN_DELTA_MS`` above
the baseline, so LAN jitter on a 2 ms service is not an alert.

The rolling state lives in Redis (one small JSON value per endpoint plus a
hash of its open alerts), so a check reads no history; the baseline is also
kept on the endpoint row. When the Redis state is missing it is rebuilt from
the newest health rows, the open alerts and the hourly aggregates.

Notifications go out through Apprise (``NotificationChannel`` rows and
``settings.APPRISE_URLS``) from the Celery task ``integrations.notify_alert``,
never from the check itself.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations import monitor_settings as conf
from integrations.models import (
    Alert,
    HealthAggregate,
    IntegrationEndpoint,
    IntegrationHealthStatus,
    NotificationChannel,
)
from integrations.stats import median, percentile
from testenv.realtime import broadcast
from testenv.redis import get_redis

logger = logging.getLogger(__name__)

DOWN = Alert.Kind.DOWN.value
RATE_LIMITED = Alert.Kind.RATE_LIMITED.value
LATENCY = Alert.Kind.LATENCY.value
SESSION_PAUSED = Alert.Kind.SESSION_PAUSED.value
TRACKED = (DOWN, RATE_LIMITED, LATENCY)
FAILING = frozenset({"UNHEALTHY", "TIMEOUT"})

STATE_KEY = "testenv:monitor:{}"
OPEN_KEY = "testenv:monitor:{}:open"
SYNCED_FIELD = "_synced"
STATE_VERSION = 1


# -- observations and state ---------------------------------------------------


@dataclass
class Observation:
    """What one check contributes to alerting."""

    status: str  # as stored (after the startup grace)
    raw_status: str  # as the probe classified it
    status_code: int | None = None
    error_message: str = ""
    rate_limited: bool = False
    # A latency sample for the baseline: answered, not failing, not a 429.
    latency_ms: int | None = None
    session_id: str | None = None

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    @classmethod
    def from_values(
        cls,
        *,
        status: str,
        response_time_ms: int,
        status_code: int | None,
        error_message: str = "",
        metadata: dict | None,
        session_id: Any = None,
    ) -> Observation:
        metadata = metadata or {}
        grace = metadata.get("startup_grace")
        raw = grace.get("raw_status", "TIMEOUT") if isinstance(grace, dict) else status
        rate_limited = status_code == 429 or bool(metadata.get("rate_limited"))
        answered = raw not in FAILING and status not in FAILING
        return cls(
            status=status,
            raw_status=raw,
            status_code=status_code,
            error_message=error_message,
            rate_limited=rate_limited,
            latency_ms=int(response_time_ms) if answered and not rate_limited else None,
            session_id=str(session_id) if session_id else None,
        )


def _epoch(endpoint: IntegrationEndpoint) -> float:
    # Distinguishes two endpoints that had the same id (a test database
    # recreated, a restore): their Redis state must not be shared.
    created = getattr(endpoint, "created_at", None)
    return round(created.timestamp(), 6) if created else 0.0


def new_state(endpoint: IntegrationEndpoint) -> dict[str, Any]:
    return {
        "v": STATE_VERSION,
        "epoch": _epoch(endpoint),
        "rings": {kind: "" for kind in TRACKED},
        "window": [],
        "baseline": endpoint.latency_baseline_ms,
        "last_raw": None,
        "session_streak": 0,
    }


def ring_size(endpoint: IntegrationEndpoint) -> int:
    return (
        max(
            conf.get("MONITOR_FLAP_WINDOW"),
            conf.get("MONITOR_FLAP_STABLE_CHECKS"),
            endpoint.failure_threshold,
            endpoint.recovery_threshold,
        )
        + 1
    )


def _trailing(ring: str, char: str) -> int:
    return len(ring) - len(ring.rstrip(char))


def _changes(ring: str, window: int) -> int:
    tail = ring[-window:]
    return sum(1 for a, b in zip(tail, tail[1:], strict=False) if a != b)


# -- decisions (pure) ---------------------------------------------------------


@dataclass
class Action:
    kind: str
    op: str  # "open" | "resolve" | "flap"
    flapping: bool = False
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    actions: list[Action] = field(default_factory=list)
    p95_ms: float | None = None
    baseline_ms: float | None = None
    latency_breach: bool | None = None
    session_streak: int = 0


def _latency_condition(state: dict, obs: Observation, learn: bool, is_open: bool):
    """Push a latency sample; return (breach or None, p95, baseline)."""
    if obs.latency_ms is None:
        return None, None, state.get("baseline")
    size = conf.get("MONITOR_LATENCY_WINDOW")
    window = (state.get("window", []) + [obs.latency_ms])[-size:]
    state["window"] = window
    baseline = state.get("baseline")
    if len(window) < conf.get("MONITOR_LATENCY_MIN_SAMPLES"):
        return None, None, baseline
    if not baseline:
        state["baseline"] = median(window)
        return None, None, state["baseline"]
    if len(window) < size:
        # Until the window is full its p95 is its maximum: one spike would
        # count as a breach on every check until the window fills.
        return None, None, baseline
    p95 = percentile(sorted(window), 95)
    breach = p95 > conf.get(
        "MONITOR_LATENCY_FACTOR"
    ) * baseline and p95 - baseline >= conf.get("MONITOR_LATENCY_MIN_DELTA_MS")
    if learn and not breach and not is_open:
        alpha = conf.get("MONITOR_BASELINE_ALPHA")
        state["baseline"] = round(baseline + alpha * (median(window) - baseline), 3)
    return breach, p95, baseline


def evaluate(
    state: dict[str, Any],
    obs: Observation,
    endpoint: IntegrationEndpoint,
    open_alerts: dict[str, dict],
    *,
    learn: bool = True,
) -> Evaluation:
    """Fold one observation into ``state`` (mutated) and decide alert changes.

    ``open_alerts`` maps alert kind to ``{"id": ..., "flap": bool}``.
    """
    result = Evaluation()
    size = ring_size(endpoint)
    flap_window = conf.get("MONITOR_FLAP_WINDOW")
    flap_changes = conf.get("MONITOR_FLAP_CHANGES")
    stable = conf.get("MONITOR_FLAP_STABLE_CHECKS")

    breach, p95, baseline = _latency_condition(
        state, obs, learn, LATENCY in open_alerts
    )
    result.p95_ms, result.baseline_ms, result.latency_breach = (
        p95,
        state.get("baseline"),
        breach,
    )
    conditions: dict[str, bool | None] = {
        DOWN: obs.failing,
        RATE_LIMITED: obs.rate_limited and not obs.failing,
        LATENCY: breach,
    }
    rings = state.setdefault("rings", {})
    for kind, condition in conditions.items():
        if condition is None:
            continue  # unknown (no answer, or no baseline yet): not a vote
        ring = (rings.get(kind, "") + ("1" if condition else "0"))[-size:]
        rings[kind] = ring
        flapping = _changes(ring, flap_window) >= flap_changes
        current = open_alerts.get(kind)
        if current is None:
            streak = _trailing(ring, "1")
            if condition and (streak >= endpoint.failure_threshold or flapping):
                result.actions.append(
                    Action(
                        kind,
                        "open",
                        flapping,
                        _open_message(kind, endpoint, obs, p95, baseline, flapping),
                        _open_details(kind, obs, streak, p95, baseline, flapping),
                    )
                )
        else:
            flapped = bool(current.get("flap")) or flapping
            needed = stable if flapped else endpoint.recovery_threshold
            if not condition and _trailing(ring, "0") >= needed:
                result.actions.append(Action(kind, "resolve", flapped))
            elif flapping and not current.get("flap"):
                result.actions.append(Action(kind, "flap", True))

    down_ring = rings.get(DOWN, "")
    if (
        SESSION_PAUSED in open_alerts
        and not obs.failing
        and _trailing(down_ring, "0") >= endpoint.recovery_threshold
    ):
        result.actions.append(Action(SESSION_PAUSED, "resolve"))

    state["session_streak"] = (
        state.get("session_streak", 0) + 1 if obs.failing and obs.session_id else 0
    )
    result.session_streak = state["session_streak"]
    state["last_raw"] = obs.raw_status
    return result


def _open_message(kind, endpoint, obs, p95, baseline, flapping) -> str:
    name = endpoint.name
    if kind == DOWN:
        what = f"{name} is {obs.status}"
        if obs.status_code:
            what += f" (HTTP {obs.status_code})"
        if obs.error_message:
            what += f": {obs.error_message[:300]}"
        return what + (" - flapping" if flapping else "")
    if kind == RATE_LIMITED:
        return f"{name} is rate limiting its health checks"
    factor = conf.get("MONITOR_LATENCY_FACTOR")
    return (
        f"{name} p95 latency {p95:.0f} ms is above {factor:g}x its baseline "
        f"of {baseline:.0f} ms"
    )


def _open_details(kind, obs, streak, p95, baseline, flapping) -> dict[str, Any]:
    details: dict[str, Any] = {"streak": streak, "flapping": flapping}
    if kind == DOWN:
        details.update(status=obs.status, status_code=obs.status_code)
    elif kind == RATE_LIMITED:
        details.update(status_code=obs.status_code)
    else:
        details.update(
            p95_ms=p95,
            baseline_ms=round(baseline, 2),
            factor=conf.get("MONITOR_LATENCY_FACTOR"),
        )
    return details


# -- Redis state ----------------------------------------------------------------


def load_state(endpoint: IntegrationEndpoint) -> tuple[dict, dict[str, dict]]:
    """The endpoint's rolling state and open alerts (rebuilt when missing/stale)."""
    redis = get_redis()
    state_raw, open_raw = (
        redis.pipeline(transaction=False)
        .get(STATE_KEY.format(endpoint.pk))
        .hgetall(OPEN_KEY.format(endpoint.pk))
        .execute()
    )
    state = None
    if state_raw:
        try:
            state = json.loads(state_raw)
        except ValueError:
            state = None
    if (
        not state
        or state.get("v") != STATE_VERSION
        or state.get("epoch") != _epoch(endpoint)
    ):
        state = rebuild_state(endpoint)
    open_alerts = _decode_open(open_raw)
    synced = open_alerts.pop(SYNCED_FIELD, None)
    refresh = conf.get("MONITOR_OPEN_ALERTS_REFRESH_SECONDS")
    if synced is None or time.time() - float(synced) > refresh:
        open_alerts = sync_open_alerts(endpoint.pk)
    return state, open_alerts


def save_state(endpoint: IntegrationEndpoint, state: dict) -> None:
    get_redis().set(
        STATE_KEY.format(endpoint.pk),
        json.dumps(state, separators=(",", ":")),
        ex=conf.get("MONITOR_STATE_TTL_SECONDS"),
    )


def forget_state(endpoint_id: int) -> None:
    """Drop the cached state (it is rebuilt from the database on the next check)."""
    get_redis().delete(STATE_KEY.format(endpoint_id), OPEN_KEY.format(endpoint_id))


def _decode_open(raw: dict) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        name = key.decode() if isinstance(key, bytes) else key
        text = value.decode() if isinstance(value, bytes) else value
        decoded[name] = text if name == SYNCED_FIELD else json.loads(text)
    return decoded


def open_alerts_in_db(endpoint_id: int) -> dict[str, dict]:
    """``{kind: {"id", "flap"}}`` of the endpoint's open alerts."""
    return {
        kind: {"id": pk, "flap": bool((details or {}).get("flapping"))}
        for pk, kind, details in Alert.objects.filter(
            endpoint_id=endpoint_id, state=Alert.State.OPEN
        ).values_list("id", "kind", "details")
    }


def sync_open_alerts(endpoint_id: int) -> dict[str, dict]:
    """Re-read the open alerts of an endpoint from the database into Redis."""
    open_alerts = open_alerts_in_db(endpoint_id)
    key = OPEN_KEY.format(endpoint_id)
    pipe = get_redis().pipeline()
    pipe.delete(key)
    pipe.hset(
        key,
        mapping={
            SYNCED_FIELD: str(time.time()),
            **{kind: json.dumps(value) for kind, value in open_alerts.items()},
        },
    )
    pipe.expire(key, conf.get("MONITOR_STATE_TTL_SECONDS"))
    pipe.execute()
    return open_alerts


def _cache_open(endpoint_id: int, kind: str, value: dict | None) -> None:
    key = OPEN_KEY.format(endpoint_id)
    try:
        if value is None:
            get_redis().hdel(key, kind)
        else:
            get_redis().hset(key, kind, json.dumps(value))
    except Exception:
        # The periodic re-read repairs the cache; an alert change must not fail.
        logger.warning("open-alert cache of endpoint %s not updated", endpoint_id)


def rebuild_state(endpoint: IntegrationEndpoint) -> dict[str, Any]:
    """Replay the newest health rows into a fresh state (no alert actions)."""
    state = new_state(endpoint)
    if not state["baseline"]:
        state["baseline"] = aggregate_baseline(endpoint.pk)
    rows = list(
        IntegrationHealthStatus.objects.filter(endpoint_id=endpoint.pk)
        .order_by("-checked_at", "-id")
        .values(
            "status",
            "response_time_ms",
            "status_code",
            "error_message",
            "metadata",
            "session_id",
        )[: max(ring_size(endpoint), conf.get("MONITOR_LATENCY_WINDOW"))]
    )
    for row in reversed(rows):
        evaluate(state, Observation.from_values(**row), endpoint, {}, learn=False)
    return state


def aggregate_baseline(endpoint_id: int) -> float | None:
    """Median of the hourly p50s of the last day of aggregates, if any."""
    since = timezone.now() - timedelta(days=1)
    values = [
        value
        for value in HealthAggregate.objects.filter(
            endpoint_id=endpoint_id, hour__gte=since, p50_ms__isnull=False
        ).values_list("p50_ms", flat=True)
    ]
    return median(values)


# -- alert rows -----------------------------------------------------------------


def alert_payload(alert: Alert, endpoint: IntegrationEndpoint | None = None) -> dict:
    endpoint = endpoint or alert.endpoint
    return {
        "id": alert.pk,
        "endpoint_id": alert.endpoint_id,
        "endpoint_name": endpoint.name,
        "mode": endpoint.mode,
        "kind": alert.kind,
        "state": alert.state,
        "message": alert.message,
        "opened_at": alert.opened_at,
        "resolved_at": alert.resolved_at,
        "session_id": str(alert.session_id) if alert.session_id else None,
        "details": alert.details,
    }


def _after_commit(alert: Alert, endpoint: IntegrationEndpoint, event: str) -> None:
    """Dashboard event, cache update and notification, once the change commits."""
    payload_type = "alert_resolved" if event == "resolved" else "alert_opened"
    broadcast(payload_type, alert_payload(alert, endpoint))
    cached = (
        None
        if event == "resolved"
        else {
            "id": alert.pk,
            "flap": bool(alert.details.get("flapping")),
        }
    )
    alert_id, kind, endpoint_id = alert.pk, alert.kind, endpoint.pk

    def later() -> None:
        _cache_open(endpoint_id, kind, cached)
        queue_notification(alert_id, event)

    transaction.on_commit(later)


def queue_notification(alert_id: int, event: str) -> None:
    from integrations.tasks import notify_alert

    try:
        notify_alert.apply_async(
            args=[alert_id, event], queue=conf.get("MONITOR_NOTIFY_QUEUE")
        )
    except Exception:
        # A broker outage must not undo an alert; the dashboard still shows it.
        logger.exception("notification of alert %s (%s) not queued", alert_id, event)


def open_alert(
    endpoint: IntegrationEndpoint,
    kind: str,
    *,
    message: str,
    details: dict[str, Any] | None = None,
    session_id: Any = None,
    flapping: bool = False,
) -> Alert | None:
    """Open an alert of ``kind`` for ``endpoint``; None when one is already open.

    An alert of the same kind resolved within ``MONITOR_REOPEN_SECONDS`` is
    re-opened instead (same row, ``details.reopened`` counts, marked
    flapping): an endpoint that keeps bouncing is one incident, not many.
    Broadcasts ``alert_opened`` and queues the notification after commit.
    """
    details = dict(details or {})
    now = timezone.now()
    with transaction.atomic():
        recent = (
            Alert.objects.filter(
                endpoint=endpoint,
                kind=kind,
                state=Alert.State.RESOLVED,
                resolved_at__gte=now
                - timedelta(seconds=conf.get("MONITOR_REOPEN_SECONDS")),
            )
            .order_by("-resolved_at")
            .first()
        )
        alert = None
        if recent is not None:
            merged = {
                **{k: v for k, v in recent.details.items() if k != "resolved_by"},
                **details,
                "flapping": True,
                "reopened": int(recent.details.get("reopened", 0)) + 1,
                "reopened_at": now.isoformat(),
            }
            try:
                with transaction.atomic():
                    updated = Alert.objects.filter(
                        pk=recent.pk, state=Alert.State.RESOLVED
                    ).update(
                        state=Alert.State.OPEN,
                        resolved_at=None,
                        message=message,
                        details=merged,
                    )
            except IntegrityError:
                # Another alert of this kind is open already (see below).
                _cache_open_after_commit(endpoint.pk)
                return None
            if updated:
                recent.state, recent.resolved_at = Alert.State.OPEN, None
                recent.message, recent.details = message, merged
                alert, event = recent, "reopened"
        if alert is None:
            details.setdefault("flapping", flapping)
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        endpoint=endpoint,
                        kind=kind,
                        message=message,
                        details=details,
                        session_id=session_id,
                        opened_at=now,
                    )
            except IntegrityError:
                # The partial unique index says one is open already (a
                # concurrent check or a stale cache): nothing new to tell.
                _cache_open_after_commit(endpoint.pk)
                return None
            event = "opened"
        _after_commit(alert, endpoint, event)
    return alert


def _cache_open_after_commit(endpoint_id: int) -> None:
    transaction.on_commit(lambda: sync_open_alerts(endpoint_id))


def resolve_alert(alert_id: int, endpoint: IntegrationEndpoint) -> Alert | None:
    """Resolve an open alert; None if it was not open any more."""
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.filter(pk=alert_id, state=Alert.State.OPEN).first()
        if alert is None:
            _cache_open_after_commit(endpoint.pk)
            return None
        alert.details = {**alert.details, "resolved_by": "checks"}
        updated = Alert.objects.filter(pk=alert_id, state=Alert.State.OPEN).update(
            state=Alert.State.RESOLVED, resolved_at=now, details=alert.details
        )
        if not updated:
            return None
        alert.state, alert.resolved_at = Alert.State.RESOLVED, now
        _after_commit(alert, endpoint, "resolved")
    return alert


def mark_flapping(alert_id: int, endpoint: IntegrationEndpoint) -> None:
    alert = Alert.objects.filter(pk=alert_id, state=Alert.State.OPEN).first()
    if alert is None:
        return
    alert.details = {**alert.details, "flapping": True}
    alert.save(update_fields=["details"])
    value = {"id": alert.pk, "flap": True}
    kind = alert.kind
    transaction.on_commit(lambda: _cache_open(endpoint.pk, kind, value))


def apply_actions(
    endpoint: IntegrationEndpoint,
    actions: list[Action],
    open_alerts: dict[str, dict],
    *,
    session_id: Any = None,
) -> None:
    """Carry out ``evaluate``'s decisions (inside the check's transaction)."""
    for action in actions:
        if action.op == "open":
            alert = open_alert(
                endpoint,
                action.kind,
                message=action.message,
                details=action.details,
                session_id=session_id,
                flapping=action.flapping,
            )
            if alert is not None:
                open_alerts[action.kind] = {
                    "id": alert.pk,
                    "flap": bool(alert.details.get("flapping")),
                }
        elif action.op == "resolve":
            current = open_alerts.pop(action.kind, None)
            if current:
                resolve_alert(current["id"], endpoint)
        elif action.op == "flap":
            current = open_alerts.get(action.kind)
            if current:
                current["flap"] = True
                mark_flapping(current["id"], endpoint)


# -- notifications ----------------------------------------------------------------


def _render(alert: Alert, event: str) -> tuple[str, str, str]:
    import apprise

    endpoint = alert.endpoint
    label = alert.get_kind_display()
    if event == "resolved":
        title = f"[testenv] Resolved: {label} - {endpoint.name}"
        notify_type = apprise.NotifyType.SUCCESS
    else:
        verb = "Re-opened (flapping)" if event == "reopened" else "Alert"
        title = f"[testenv] {verb}: {label} - {endpoint.name}"
        notify_type = (
            apprise.NotifyType.FAILURE
            if alert.kind in (DOWN, SESSION_PAUSED)
            else apprise.NotifyType.WARNING
        )
    lines = [
        alert.message,
        f"Endpoint: {endpoint.name} ({endpoint.kind}, {endpoint.mode})",
        f"Opened: {alert.opened_at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    if alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC")
    return title, "\n".join(lines), notify_type


def _deliver(url: str, title: str, body: str, notify_type: str) -> str:
    """Send through one Apprise URL; return "" on success or the error text."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return "not a valid Apprise URL"
    timeout = float(getattr(settings, "APPRISE_TIMEOUT_SECONDS", 20))
    try:
        result = sender.notify(
            body=body, title=title, notify_type=notify_type, timeout=timeout
        )
    except Exception as exc:  # a plugin bug must not stop the other channels
        return f"{exc.__class__.__name__}: {exc}"[:500]
    if result:
        return ""
    messages = [
        entry.message
        for entry in result.logs()
        if entry.level in ("WARNING", "ERROR", "CRITICAL")
    ]
    # Apprise URLs carry webhook tokens and passwords: never store them.
    text = "; ".join(messages) or "delivery failed"
    return text.replace(url, "<channel url>")[:500]


def send_notifications(alert_id: int, event: str) -> dict[str, str]:
    """Deliver an alert event to every enabled channel; record each outcome.

    Returns ``{channel name: error or ""}``. A failing channel is recorded on
    its row (``last_error``) and does not stop the others.
    """
    alert = Alert.objects.select_related("endpoint").filter(pk=alert_id).first()
    if alert is None:
        return {}
    title, body, notify_type = _render(alert, event)
    outcomes: dict[str, str] = {}
    for channel in NotificationChannel.objects.filter(enabled=True):
        try:
            url = channel.get_url()
        except Exception:
            error = "the stored URL cannot be decrypted"
        else:
            error = _deliver(url, title, body, notify_type) if url else "no URL set"
        now = timezone.now()
        changes: dict[str, Any] = {"last_error": error}
        if not error:
            changes["last_sent_at"] = now
        NotificationChannel.objects.filter(pk=channel.pk).update(**changes)
        outcomes[channel.name] = error
    for index, url in enumerate(getattr(settings, "APPRISE_URLS", []) or []):
        error = _deliver(url, title, body, notify_type)
        if error:
            logger.warning("APPRISE_URLS[%s] failed: %s", index, error)
        outcomes[f"APPRISE_URLS[{index}]"] = error
    if any(not error for error in outcomes.values()):
        Alert.objects.filter(pk=alert_id).update(last_notified_at=timezone.now())
    return outcomes
