"""Latency statistics shared by alerting, retention and the history API.

Percentiles use the nearest-rank method on raw samples (exact, no
interpolation: a p95 is a latency some check really had). Hourly aggregates
also keep a sparse log-scale histogram, so that two partial roll-ups of one
hour merge without losing the distribution: bucket ``i`` holds latencies in
``[RATIO**(i-1), RATIO**i)`` ms, which bounds the error of a merged
percentile to half a bucket (about 2.5 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

RATIO = 1.05
_LOG_RATIO = math.log(RATIO)


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def median(values: Iterable[float]) -> float | None:
    return percentile(sorted(values), 50)


def bucket_of(ms: float) -> int:
    """Histogram bucket index of a latency (0 holds everything below 1 ms)."""
    if ms < 1:
        return 0
    return int(math.floor(math.log(ms) / _LOG_RATIO)) + 1


def bucket_value(index: int) -> float:
    """A representative latency of a bucket: its geometric midpoint."""
    if index <= 0:
        return 0.0
    low = RATIO ** (index - 1)
    return low * math.sqrt(RATIO)


def histogram(values: Iterable[float]) -> dict[str, int]:
    """Sparse histogram ``{bucket index (str, for JSON): count}``."""
    counts: dict[str, int] = {}
    for value in values:
        key = str(bucket_of(value))
        counts[key] = counts.get(key, 0) + 1
    return counts


def merge_histograms(*histograms: Mapping[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for hist in histograms:
        for key, count in (hist or {}).items():
            merged[key] = merged.get(key, 0) + int(count)
    return merged


def histogram_percentile(hist: Mapping[str, int], pct: float) -> float | None:
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(pct / 100.0 * total))
    seen = 0
    for key in sorted(hist, key=int):
        seen += hist[key]
        if seen >= rank:
            return round(bucket_value(int(key)), 2)
    return None  # pragma: no cover - unreachable: rank <= total


class Rollup:
    """Accumulates health rows of one hour into aggregate fields.

    ``count`` and ``failures`` cover every row; the latency figures cover the
    rows that got an answer (not UNHEALTHY/TIMEOUT), like the baseline does:
    a timeout's "latency" is the deadline, not the service's speed.
    """

    FAILING = frozenset({"UNHEALTHY", "TIMEOUT"})

    def __init__(self) -> None:
        self.count = 0
        self.failures = 0
        self.latencies: list[int] = []
        self.status_counts: dict[str, int] = {}

    def add(self, status: str, response_time_ms: int) -> None:
        self.count += 1
        self.status_counts[status] = self.status_counts.get(status, 0) + 1
        if status in self.FAILING:
            self.failures += 1
        else:
            self.latencies.append(int(response_time_ms))

    def fields(self, existing: Mapping | None = None) -> dict:
        """Aggregate fields; merged into ``existing`` (a row's values) if given.

        Without ``existing`` the percentiles are exact; a merge computes them
        from the combined histogram.
        """
        hist = histogram(self.latencies)
        total_ms = float(sum(self.latencies))
        answered = len(self.latencies)
        count, failures = self.count, self.failures
        status_counts = dict(self.status_counts)
        if existing:
            count += existing["count"]
            failures += existing["failures"]
            status_counts = merge_histograms(status_counts, existing["status_counts"])
            old_answered = existing["count"] - existing["failures"]
            if existing.get("avg_ms") is not None:
                total_ms += existing["avg_ms"] * old_answered
            answered += old_answered
            hist = merge_histograms(hist, existing.get("histogram") or {})
            p50, p95, p99 = (histogram_percentile(hist, p) for p in (50, 95, 99))
        else:
            ordered = sorted(self.latencies)
            p50, p95, p99 = (percentile(ordered, p) for p in (50, 95, 99))
        return {
            "count": count,
            "failures": failures,
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
            "avg_ms": round(total_ms / answered, 2) if answered else None,
            "status_counts": status_counts,
            "histogram": hist,
        }
