"""Quantiles two ways: read off a Prometheus histogram's buckets, and exact from samples.

``histogram_quantile`` does what Prometheus' function of that name does with the cumulative
bucket counts of a histogram (``le`` upper bounds, the last one ``+Inf``): the rank is
``q * count``; the answer lies in the first bucket whose cumulative count reaches that rank,
at the fraction of the bucket's width that the rank's place among the bucket's own
observations says (linear interpolation: the samples are taken as spread evenly inside a
bucket). The first bucket's lower bound is 0; a rank in the ``+Inf`` bucket answers the
highest finite bound. The error is therefore bounded by the width of the bucket the quantile
falls in, and is usually a small fraction of it.

``sample_quantile`` is the exact quantile of a list of samples, interpolated linearly between
the two order statistics around ``q * (n - 1)`` (numpy's default).

``bucketize`` puts samples into cumulative buckets, so the client's own samples can be read
through the server's buckets: the difference between that and the exact figure is the
histogram's estimation error alone, apart from any difference between the two clocks.

Importable as ``bench.histogram`` (tests) and ``histogram`` (scripts in ``bench/``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

Buckets = list[tuple[float, float]]  # (upper bound, cumulative count), ascending, +Inf last


def histogram_quantile(q: float, buckets: Buckets) -> float:
    total = buckets[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank and cumulative > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return lower


def sample_quantile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    h = q * (len(ordered) - 1)
    i = math.floor(h)
    j = min(i + 1, len(ordered) - 1)
    return ordered[i] + (ordered[j] - ordered[i]) * (h - i)


def bucketize(samples: Sequence[float], bounds: Sequence[float]) -> Buckets:
    """Cumulative counts of ``samples`` under each of ``bounds`` (``+Inf`` added)."""
    ordered = sorted(samples)
    finite = [b for b in bounds if not math.isinf(b)]
    out = [(b, float(bisect.bisect_right(ordered, b))) for b in finite]
    return [*out, (math.inf, float(len(ordered)))]
