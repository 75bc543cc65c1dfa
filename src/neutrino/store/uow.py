"""Unit of work: one transaction per API call, the change log, retry on conflict.

``Store.write(fn, ...)`` runs ``fn(tx, ...)`` inside one transaction and commits once. ``tx.record``
appends to the change log inside that same transaction, so a change is visible to watchers
exactly when (and only if) its data is committed; there are no post-commit side effects.

Retry: a unique-key or serialization failure means a concurrent writer won a race (two ports
picked the same free IP on PostgreSQL); the whole function is run again on a fresh transaction,
up to ``RETRIES`` times with jittered backoff. Service functions must therefore be pure
functions of the database (no side effects outside ``tx``).

Ordering: on SQLite writers are serialized, so change revisions are in commit order. On
PostgreSQL a sequence is not commit-ordered, so ``record`` first takes a transaction-scoped
advisory lock that serializes change-log appends until commit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from neutrino.common import clock
from neutrino.common.errors import Conflict, RetryableConflict
from neutrino.store import changefeed, raw
from neutrino.store.engine import Engines
from neutrino.store.models import Base, Change

P = ParamSpec("P")
T = TypeVar("T")

RETRIES = 8
MAX_WAIT = 300.0  # s: no caller waits longer; a bound also for a bogus (NaN, inf) timeout
CHANGELOG_LOCK_KEY = 0x6E657574  # "neut"
changes = Change.__table__


class Tx:
    """A write transaction: the connection plus the change-log appender."""

    def __init__(self, conn: Connection, is_postgres: bool) -> None:
        self.conn = conn
        self._is_postgres = is_postgres
        self._locked = False
        self.recorded = 0

    def record(
        self,
        resource_type: str,
        resource_id: str,
        op: str,
        project_id: str = "",
        network_id: str | None = None,
    ) -> None:
        if self._is_postgres and not self._locked:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGELOG_LOCK_KEY})
            # delivered at commit (not at all on rollback): other processes' watchers wake
            self.conn.execute(text("SELECT pg_notify(:c, '')"), {"c": changefeed.CHANNEL})
            self._locked = True
        raw.run(self.conn, "INSERT INTO changes (resource_type, resource_id, op, project_id, "
                           "network_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (resource_type, resource_id, op, project_id, network_id,
                 raw.db_time(self.conn, clock.now())))
        self.recorded += 1


class Store:
    def __init__(self, url: str) -> None:
        self.engines = Engines(url)
        self.is_postgres = not self.engines.is_sqlite
        self._changed = threading.Condition()
        self._listeners: list[Callable[[], None]] = []
        self.feed = changefeed.ChangeFeed(self._notify, self.current_revision,
                                          listen=self._listen if self.is_postgres else None)

    def create_all(self) -> None:
        """Create the schema directly (tests); production uses Alembic (``neutrino db upgrade``)."""
        Base.metadata.create_all(self.engines.write)

    def dispose(self) -> None:
        self.feed.stop()
        self.engines.dispose()

    def _listen(self) -> Any:
        """A psycopg connection of its own, in autocommit mode, for LISTEN."""
        import psycopg

        url = self.engines.write.url.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engines.read.connect() as conn:
            with conn.begin():
                yield conn

    def write(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(RETRIES):
            try:
                with self.engines.write_lock(), self.engines.write.connect() as conn:
                    with conn.begin():
                        tx = Tx(conn, self.is_postgres)
                        result = fn(tx, *args, **kwargs)
                if tx.recorded:
                    self._notify()
                return result
            except (IntegrityError, OperationalError, RetryableConflict) as exc:
                if not _retryable(exc) or attempt == RETRIES - 1:
                    if isinstance(exc, IntegrityError):
                        raise Conflict("The request conflicts with a concurrent change.") from exc
                    raise
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    # --- change notification (in-process here; other processes through ``self.feed``)

    def current_revision(self) -> int:
        with self.read() as conn:
            return conn.execute(select(func.coalesce(func.max(changes.c.revision), 0))).scalar_one()

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the change log passes ``since`` (a commit by any process: see
        ``changefeed``) or ``timeout`` (at most ``MAX_WAIT``); the latest revision."""
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_WAIT)
        self.feed.waiting(+1)
        try:
            with self._changed:
                while True:
                    rev = self.current_revision()
                    remaining = deadline - time.monotonic()
                    if rev > since or remaining <= 0:
                        return rev
                    self._changed.wait(remaining)
        finally:
            self.feed.waiting(-1)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, (IntegrityError, RetryableConflict)):
        return True
    if isinstance(exc, DBAPIError):
        msg = str(exc.orig).lower()
        return "locked" in msg or "serializ" in msg or "deadlock" in msg
    return False
