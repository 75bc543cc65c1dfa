"""Wall-clock helpers in the formats the OpenStack APIs use."""

from __future__ import annotations

import datetime as dt
import math
import time


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso_seconds(when: dt.datetime) -> str:
    """Neutron's timestamp format: ``2026-11-22T00:14:41Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(when: dt.datetime) -> str:
    """Keystone's token timestamp format: ``2026-11-22T00:14:41.000000Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch() -> float:
    return time.time()


def bounded_wait(seconds: float, maximum: float) -> float:
    """A wait in ``[0, maximum]``. NaN is 0 (``min``/``max`` would pass it through, and a NaN
    deadline never comes: a waiter would spin forever); +inf is ``maximum``."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), maximum)
