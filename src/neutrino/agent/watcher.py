"""The watcher: follows the controller's host state and tells the apply loop when it changed.

What it owns: the cursor (last revision seen), the latest ``HostState`` and the ``in_sync``
marker. Protocol (``/agent/v1/hosts/{host}/state``): the first call has no ``since`` and gets
a full snapshot; later calls long-poll with ``since=<revision>`` and get either a new full
state or ``state: null`` with the revision to continue from. A controller that does not know
our revision (restart, another replica) answers with a snapshot, so gaps heal by themselves.

Invariants:

* ``state`` only ever moves to a newer answer; ``in_sync`` is set after the first snapshot
  and cleared while the controller is unreachable (the loop keeps applying the last state:
  the kernel keeps forwarding with what it has — never tear down because the controller
  is away);
* every new state calls ``on_change`` (the loop's dirty flag); a "no change" answer does not.

Retries: only ``ClientError.retryable`` failures (transport errors, 5xx) are retried, with
jittered exponential backoff (``Backoff``), reset after a success. Anything else (403: a
token without the service role; a bug) propagates out of ``run``: die loudly, the
supervisor restarts us.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Protocol

from neutrino.client import ClientError, HostStateWatch
from neutrino.domain.hoststate import HostState

__all__ = ["Backoff", "HostStateSource", "Watcher"]

log = logging.getLogger(__name__)


class HostStateSource(Protocol):
    """What the watcher needs of the controller (``neutrino.client.Controller`` has it)."""

    def watch_host_state(
        self, host: str, since: int | None = None, timeout: float = 30.0
    ) -> HostStateWatch: ...


class Backoff:
    """Exponential backoff with full jitter: delays drawn from [base·2ⁿ/2, base·2ⁿ], ≤ cap."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Watcher:
    """Long-polls one host's state (see the module docstring)."""

    def __init__(
        self,
        source: HostStateSource,
        host: str,
        *,
        on_change: Callable[[], None] = lambda: None,
        poll_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.source = source
        self.host = host
        self.on_change = on_change
        self.poll_timeout = poll_timeout
        self.backoff = backoff or Backoff()
        self.revision: int | None = None
        self.in_sync = threading.Event()
        self._state: HostState | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> HostState | None:
        """The latest full host state received (None before the first snapshot)."""
        with self._lock:
            return self._state

    def poll_once(self) -> bool:
        """One watch call; True if it brought a new state. Raises ``ClientError``."""
        answer = self.source.watch_host_state(
            self.host, self.revision, self.poll_timeout if self.revision is not None else 0.0
        )
        self.revision = answer.revision
        if answer.state is None:
            if self.state is not None:
                self.in_sync.set()  # reconnected, nothing missed
            return False
        with self._lock:
            self._state = answer.state
        self.in_sync.set()
        self.on_change()
        return True

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; retryable errors back off, others propagate."""
        while not stop.is_set():
            try:
                self.poll_once()
            except ClientError as exc:
                if not exc.retryable:
                    raise
                self.in_sync.clear()
                delay = self.backoff.next()
                log.warning("host state watch failed (%s); retrying in %.1fs", exc, delay)
                stop.wait(delay)
            else:
                self.backoff.reset()
