"""Percentiles for the bench scripts (imported as ``stats``: they run as ``python bench/X.py``)."""

from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    """p50/p99/max/mean of durations in seconds, as milliseconds with one decimal."""

    def ms(value: float) -> float:
        return round(value * 1e3, 1)

    return {
        "p50_ms": ms(pct(values, 0.5)),
        "p99_ms": ms(pct(values, 0.99)),
        "max_ms": ms(max(values)),
        "mean_ms": ms(statistics.mean(values)),
    }
