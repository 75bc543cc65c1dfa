"""Waiters wake on commits made by *another* Store (another process, another replica): by
LISTEN/NOTIFY on PostgreSQL, by polling the change log on SQLite — well before the timeout."""

from __future__ import annotations

import contextlib
import threading
import time

from neutrino.common.settings import Settings
from neutrino.store.uow import Store, Tx


def test_a_commit_in_another_store_wakes_a_waiter(settings: Settings, store: Store) -> None:
    other = Store(settings.db_url)  # stands for another API process on the same database
    try:
        since = store.current_revision()
        woke: dict[str, float] = {}

        def wait() -> None:
            t0 = time.monotonic()
            woke["revision"] = store.wait_for_change(since, 20.0)
            woke["after"] = time.monotonic() - t0

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)  # the waiter is asleep (and, on PostgreSQL, listening)

        def change(tx: Tx) -> None:
            tx._record("network", "n1", "create", "p", "n1")

        other.write(change)
        waiter.join(20)
        assert woke["revision"] == since + 1
        assert woke["after"] < 5.0  # not the 20 s timeout

        # a rolled-back transaction wakes no one
        def failing(tx: Tx) -> None:
            tx._record("network", "n2", "create", "p", "n2")
            raise RuntimeError("rolled back")

        t0 = time.monotonic()
        with contextlib.suppress(RuntimeError):
            other.write(failing)
        assert store.wait_for_change(since + 1, 1.0) == since + 1
        assert time.monotonic() - t0 >= 0.9
    finally:
        other.dispose()
