"""The latency histogram's buckets are fine enough to read p50/p90/p99 off within a few per
cent, with Prometheus' ``histogram_quantile`` (``bench/histogram.py``, what
``bench/metrics.py`` reads the server's figures with). Pure logic: seeded samples, no clock."""

from __future__ import annotations

import itertools
import math
import random
import statistics

from bench.histogram import bucketize, histogram_quantile, sample_quantile

from neutrino.api.observability import BUCKETS


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    buckets = [(1.0, 2.0), (2.0, 6.0), (4.0, 6.0), (math.inf, 8.0)]
    assert histogram_quantile(0.5, buckets) == 1.5  # rank 4: halfway through (1, 2]
    assert histogram_quantile(0.25, buckets) == 1.0  # rank 2: the top of the first bucket
    assert histogram_quantile(0.1, buckets) == 0.4  # the first bucket starts at 0
    assert histogram_quantile(0.99, buckets) == 4.0  # in +Inf: the highest finite bound
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))


def test_bucketize_counts_cumulatively_with_inclusive_bounds() -> None:
    assert bucketize([0.5, 1.0, 1.5, 9.0], [1.0, 2.0]) == [(1.0, 2.0), (2.0, 3.0), (math.inf, 4.0)]


def test_buckets_are_twenty_a_decade_where_requests_live() -> None:
    assert list(BUCKETS) == sorted(set(BUCKETS))
    fine = [b for b in BUCKETS if 0.0005 <= b <= 0.2]
    assert fine[0] < 0.00051 and fine[-1] > 0.199
    assert max(b / a for a, b in itertools.pairwise(fine)) < 1.13
    assert BUCKETS[-1] >= 60  # long-polls and stalls still land in a finite bucket


def test_quantiles_read_off_the_buckets_are_within_a_few_per_cent() -> None:
    rng = random.Random(13)
    errors: dict[float, list[float]] = {0.5: [], 0.9: [], 0.99: []}
    for _ in range(200):
        median, spread = rng.uniform(0.0008, 0.03), rng.uniform(0.1, 1.0)
        samples = [median * rng.lognormvariate(0, spread) for _ in range(800)]
        buckets = bucketize(samples, BUCKETS)
        for q, found in errors.items():
            exact = sample_quantile(samples, q)
            found.append(abs(histogram_quantile(q, buckets) / exact - 1))
    assert max(errors[0.5]) < 0.03 and max(errors[0.9]) < 0.04
    # p99 of 800 samples rests on the 8 slowest: where they are sparse the gap between two
    # neighbours, not the bucket, bounds the error; typically it is small.
    assert statistics.median(errors[0.99]) < 0.03
    assert sorted(errors[0.99])[int(0.9 * len(errors[0.99]))] < 0.06
