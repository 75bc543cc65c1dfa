"""Unit of work: one transaction per API call, the change log, retry on conflict.

``Store.write(fn, ...)`` runs ``fn(tx, ...)`` inside one transaction and commits once.
``tx.created``/``updated``/``deleted`` (the change model: ``changes``) add to the change log
inside that same transaction, so a change is visible to watchers exactly when (and only if)
its data is committed; there are no post-commit side effects.

Concurrent writers (several workers, several API servers on one PostgreSQL). SQLite has one
writer at a time (``BEGIN IMMEDIATE`` behind a process lock, ``engine``): a transaction always
reads the latest state, nothing more is needed. PostgreSQL writers run at READ COMMITTED and
lock what they read to change it (``locks``): a delete locks the row it deletes before it
looks at it, an ``If-Match`` update the row whose revision it compares, a create the
(project, resource) quota key before it counts, a port create its network before IPAM picks,
a subnet delete the network before it looks for allocations, a router interface the router.
The loser of a race waits for the winner's commit, then reads its result and answers what a
sequential run would (404, 412, 409, 400) — without a retry. Which service locks what, and
why, is written in each service module's docstring.

Why not SERIALIZABLE with retries: it would catch the same anomalies, but by aborting. Two
port creates on one network each read the allocations the other inserts (IPAM's scan of the
pool), so under SSI one of them fails with a serialization error and runs again, and a
transaction that waited for a hot row is judged on the snapshot it took before waiting; with
eight concurrent creators on one network or in one project, retries would pile up, could run
out (a 409 the client did not earn) and would cost whole re-executions. Row locks make the
loser wait only as long as the winner's transaction and then go on with the committed state:
the outcome is deterministic and nothing a sequential run would accept fails.

Retry: a unique-key violation, a deadlock or a serialization failure means a concurrent
writer won a race the locks leave to the database (two network creates picking the same free
VNI, a project's first default security group made twice, an agent's first two reports; on
SQLite, ``database is locked``); the whole function is run again on a fresh transaction, up to
``RETRIES`` times with jittered backoff, and then sees the winner's row. Service functions
must therefore be pure functions of the database (no side effects outside ``tx``).

Ordering: on SQLite writers are serialized, so change revisions are in commit order. On
PostgreSQL a sequence is not commit-ordered, so the change-log rows are written at the end of
the transaction, after ``fn`` returns, under a transaction-scoped advisory lock held until
commit: appends are serialized (revisions in commit order), the lock is the last one any
transaction takes (no deadlock with the row locks) and it is held only for the append and the
commit.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from neutrino.common import clock
from neutrino.common.errors import Conflict, RetryableConflict
from neutrino.common.wakeup import Wakeup
from neutrino.store import changefeed, changelog, raw
from neutrino.store.changes import Op, Resource
from neutrino.store.engine import Engines
from neutrino.store.models import Base

Row = Mapping[Any, Any]  # a row at hand: a RowMapping or a dict of its columns
P = ParamSpec("P")
T = TypeVar("T")

RETRIES = 8
MAX_WAIT = 300.0  # s: no caller waits longer; a bound also for a bogus (NaN, inf) timeout
CHANGELOG_LOCK_KEY = 0x6E657574  # "neut"


class Tx:
    """A write transaction: the connection plus the change-log appender. Changes are recorded
    only through ``created``/``updated``/``deleted`` (the model and its rules: ``changes``)."""

    def __init__(self, conn: Connection, is_postgres: bool) -> None:
        self.conn = conn
        self._is_postgres = is_postgres
        self._pending: list[tuple[str, str, str, str, str | None]] = []
        self.recorded = 0

    def created(self, resource: Resource, target: str | Row) -> None:
        """The row ``target`` (its id, or the row as inserted) was created."""
        self._append(resource, target, Op.CREATE)

    def deleted(self, resource: Resource, target: str | Row) -> None:
        """The row ``target`` (its id, before the delete, or the row as it was) is deleted."""
        self._append(resource, target, Op.DELETE)

    def updated(
        self,
        resource: Resource,
        target: str | Row,
        values: Mapping[str, Any] = {},
        op: Op = Op.UPDATE,
    ) -> int | None:
        """Set ``values`` on the row (its id, or the row at hand), bump its revision and
        ``updated_at`` and record an update (or ``Op.STATUS``: only its status changed), in
        one statement; the new revision, or None when the row does not exist (nothing is
        recorded then). On a resource without revisions it only records: its service wrote
        what changed."""
        if op not in (Op.UPDATE, Op.STATUS):
            raise ValueError(f"not an update: {op}")
        if not resource.revised:
            assert not values, resource
            self._append(resource, target, op)
            return None
        row_id = target if isinstance(target, str) else target["id"]
        unknown = set(values) - set(Base.metadata.tables[resource.table].c.keys())
        if unknown:  # the names go into SQL text: only the table's own columns
            raise ValueError(f"{resource.table} has no column {sorted(unknown)}")
        sets = [f"{name} = ?, " for name in values]
        params = [self._db(v) for v in values.values()]
        found = raw.one(
            self.conn,
            f"UPDATE {resource.table} SET {''.join(sets)}revision_number = revision_number + 1, "
            f"updated_at = ? WHERE id = ? RETURNING project_id, "
            f"{resource.network_column or 'NULL'}, revision_number",
            (*params, self._db(clock.now()), row_id),
        )
        if found is not None:
            self._record(resource.type, row_id, op.value, found[0], found[1])
        return None if found is None else int(found[2])

    def _append(self, resource: Resource, target: str | Row, op: Op) -> None:
        """Project and network come from the row: the one given, or read by its id."""
        if isinstance(target, str):
            project = "project_id" if resource.owned else "''"
            found = raw.one(
                self.conn,
                f"SELECT id, {project}, {resource.network_column or 'NULL'} "
                f"FROM {resource.table} WHERE id = ?",
                (target,),
            )
            assert found is not None, (resource, target)
            target = {"id": found[0], "project_id": found[1], "net": found[2]}
            network = "net" if resource.network_column else None
        else:
            network = resource.network_column
        project = target["project_id"] if resource.owned else ""
        self._record(
            resource.type, target["id"], op.value, project, target[network] if network else None
        )

    def _record(self, rtype: str, rid: str, op: str, project: str, network: str | None) -> None:
        """The low-level appender: free strings, so never called from service code (tests
        use it to log a change as a faulty writer would)."""
        self._pending.append((rtype, rid, op, project, network))
        self.recorded += 1

    def _db(self, value: Any) -> Any:
        return raw.db_time(self.conn, value) if isinstance(value, dt.datetime) else value

    def flush(self) -> None:
        """Append the recorded changes (at the end of the transaction: see the module)."""
        if not self._pending:
            return
        if self._is_postgres:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGELOG_LOCK_KEY})
            # delivered at commit (not at all on rollback): other processes' watchers wake
            self.conn.execute(text("SELECT pg_notify(:c, '')"), {"c": changefeed.CHANNEL})
        when = raw.db_time(self.conn, clock.now())
        raw.run_many(
            self.conn,
            "INSERT INTO changes (resource_type, resource_id, op, "
            "project_id, network_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(*change, when) for change in self._pending],
        )
        self._pending.clear()


class Store:
    def __init__(self, url: str) -> None:
        self.engines = Engines(url)
        self.is_postgres = not self.engines.is_sqlite
        self.changed = Wakeup()  # notified after each commit that recorded a change
        self.closing = False  # set by close_waits: the server is shutting down
        # metrics: called with ("read"|"write", seconds) after each transaction
        self.observe: Callable[[str, float], None] | None = None
        self._listeners: list[Callable[[], None]] = []
        self.feed = changefeed.ChangeFeed(
            self._notify, self.current_revision, listen=self._listen if self.is_postgres else None
        )

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
        started = time.perf_counter()
        try:
            with self.engines.read.connect() as conn:
                with conn.begin():
                    yield conn
        finally:
            if self.observe is not None:
                self.observe("read", time.perf_counter() - started)

    def write(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return self._write(fn, *args, **kwargs)
        finally:
            if self.observe is not None:
                self.observe("write", time.perf_counter() - started)

    def _write(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(RETRIES):
            try:
                with self.engines.write_lock(), self.engines.write.connect() as conn:
                    with conn.begin():
                        tx = Tx(conn, self.is_postgres)
                        result = fn(tx, *args, **kwargs)
                        tx.flush()
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
            return changelog.latest(conn)

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the change log passes ``since`` (a commit by any process: see
        ``changefeed``) or ``timeout`` (at most ``MAX_WAIT``); the latest revision."""
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_WAIT)
        self.feed.waiting(+1)
        try:
            while True:
                seen = self.changed.generation
                rev = self.current_revision()
                remaining = deadline - time.monotonic()
                if rev > since or remaining <= 0 or self.closing:
                    return rev
                self.changed.wait_blocking(seen, remaining)
        finally:
            self.feed.waiting(-1)

    async def wait_async(self, seen: int, timeout: float) -> None:
        """Await, on the event loop, a commit after ``changed.generation`` was ``seen``, at
        most ``timeout`` seconds (or ``close_waits``): no thread is held while waiting."""
        self.feed.waiting(+1)
        try:
            await self.changed.wait(seen, clock.bounded_wait(timeout, MAX_WAIT))
        finally:
            self.feed.waiting(-1)

    def close_waits(self) -> None:
        """The server is shutting down: every wait for a change ends now (and any later one
        at once), so long-polls answer instead of holding the shutdown for their timeout."""
        self.closing = True
        self._notify()

    def _notify(self) -> None:
        self.changed.notify()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, (IntegrityError, RetryableConflict)):
        return True
    if isinstance(exc, DBAPIError):
        msg = str(exc.orig).lower()
        return "locked" in msg or "serializ" in msg or "deadlock" in msg
    return False
