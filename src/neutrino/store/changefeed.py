"""Change feed: wakes this process's waiters when *any* process commits a change.

``Store.write`` notifies in-process waiters itself; commits made by other processes (API
workers, replicas on PostgreSQL) are seen here:

* PostgreSQL: every write transaction that records a change also sends
  ``NOTIFY neutrino_changes`` (delivered at commit, once per transaction); one thread per
  process LISTENs on a dedicated connection and wakes the waiters. Lost connection: it
  reconnects, and wakes everyone once (they re-read the revision, so nothing is missed).
* SQLite (no notifications): while someone waits, one thread reads the latest revision every
  ``poll`` seconds and wakes the waiters when it moved — cross-process latency ≤ ``poll``.

The thread starts on the first wait and stops with ``stop``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "neutrino_changes"


class ChangeFeed:
    def __init__(
        self,
        wake: Callable[[], None],
        revision: Callable[[], int],
        *,
        listen: Callable[[], Any] | None = None,
        poll: float = 0.25,
    ) -> None:
        """``wake`` notifies waiters; ``revision`` reads the latest revision; ``listen`` (on
        PostgreSQL) opens a psycopg connection in autocommit mode."""
        self.wake = wake
        self.revision = revision
        self.listen = listen
        self.poll = poll
        self.waiters = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._someone_waits = threading.Event()
        self._thread: threading.Thread | None = None

    def waiting(self, delta: int) -> None:
        """A waiter arrives (+1) or leaves (-1); the first arrival starts the thread."""
        with self._lock:
            self.waiters += delta
            if self.waiters > 0:
                self._someone_waits.set()
            else:
                self._someone_waits.clear()
            if self._thread is None and not self._stop.is_set():
                target = self._run_listen if self.listen else self._run_poll
                self._thread = threading.Thread(target=target, name="change-feed", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._someone_waits.set()

    def _run_poll(self) -> None:
        last: int | None = None
        while not self._stop.is_set():
            self._someone_waits.wait()
            try:
                current = self.revision()
            except Exception:  # a disposed or busy database: try again
                log.debug("change feed: revision read failed", exc_info=True)
                self._stop.wait(self.poll)
                continue
            if last is None or current > last:
                self.wake()  # the first read too: a change may have come before it
            last = current
            self._stop.wait(self.poll)

    def _run_listen(self) -> None:
        assert self.listen is not None
        while not self._stop.is_set():
            try:
                conn = self.listen()
            except Exception:  # database away: retry
                log.warning("change feed: cannot connect to LISTEN; retrying", exc_info=True)
                self._stop.wait(1.0)
                continue
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                self.wake()  # anything committed while we were not listening
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        self.wake()
            except Exception:  # connection lost: reconnect
                log.warning("change feed: LISTEN connection lost; reconnecting", exc_info=True)
                self._stop.wait(0.5)
            finally:
                conn.close()
