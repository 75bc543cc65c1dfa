"""The newest change-log rows, read once per commit for every host-state watch of a process.

A commit wakes every parked watch of the process; rather than each reading the change log,
``ChangeTail.refresh`` reads the rows after the newest it holds in one query (in a worker
thread, one read at a time per event loop; the other callers await it), and each watch sorts
``after(cursor)`` in memory. At most ``TAIL`` rows are kept: a watch further behind reads
the database itself (``after`` answers None).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from neutrino.store import changelog
from neutrino.store.uow import Store

TAIL = 20_000  # change-log rows kept in memory for the watchers

# (revision, resource_type, op, network_id, binding host now, resource_id): see
# ``changelog.with_hosts``
Change = tuple[Any, ...]


class ChangeTail:
    """The newest change-log rows, read once per commit for every watcher of the process.

    ``rows`` hold every change with ``base < revision <= latest``, oldest first, at most
    ``TAIL``; a watcher further behind reads the database itself. Reads run in a worker
    thread, one at a time per event loop; the others await it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[Change] = []
        self.base: int | None = None
        self.latest = 0
        self._read_at = -1  # the ``store.changed`` generation the rows are at least as new as
        self._lock = threading.Lock()
        self._reading: dict[asyncio.AbstractEventLoop, asyncio.Future[None]] = {}

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        while self._read_at < self.store.changed.generation:
            reading = self._reading.get(loop)
            if reading is None or reading.done():
                reading = self._reading[loop] = asyncio.ensure_future(asyncio.to_thread(self._read))
            await asyncio.shield(reading)

    def _read(self) -> None:
        with self._lock:
            generation = self.store.changed.generation
            with self.store.read() as conn:
                if self.base is None:
                    self.base = self.latest = changelog.latest(conn)
                new = [tuple(r) for r in changelog.with_hosts(conn, self.latest)]
            if new:
                self.rows.extend(new)
                self.latest = new[-1][0]
            if len(self.rows) > TAIL:
                self.base = self.rows[-TAIL - 1][0]
                del self.rows[:-TAIL]
            self._read_at = max(self._read_at, generation)

    def after(self, cursor: int) -> tuple[int, list[Change]] | None:
        """(revision looked up to, changes after ``cursor``), or None when the rows do not
        reach back that far."""
        if self.base is None or cursor < self.base:
            return None
        if cursor >= self.latest:  # a database read already saw past our rows: nothing yet
            return cursor, []
        first = next(
            (i for i in range(len(self.rows) - 1, -1, -1) if self.rows[i][0] <= cursor), -1
        )
        return self.latest, self.rows[first + 1 :]
