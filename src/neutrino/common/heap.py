"""Garbage collection for the long-running processes, which hold large long-lived state.

CPython's full collection walks every object the collector tracks. Left alone it walks the
~150,000 objects a controller's imports leave (modules, classes, functions: they live as
long as the process; ~60,000 in an agent) and, in an agent, its host's whole desired state,
every time one runs: on a 5,000-port host the agent paused 170-370 ms and the controller
30-70 ms, a few times a minute under port churn — the p99 of a port change there.

``settle`` collects once and then freezes what survived (``gc.freeze``): later collections
skip it. Frozen objects are still freed by reference counting when the last reference goes;
only garbage cycles among them wait for the next ``settle``, which unfreezes first, so
nothing leaks past it. Callers settle when a full walk is due anyway: a process at start,
an agent after each full round (start, resync), whose work already grows with the host.
"""

from __future__ import annotations

import gc
import time

__all__ = ["settle"]


def settle() -> float:
    """Collect everything, then freeze what survived; the seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started
