"""Row and key locks that make read-modify-write transactions correct on PostgreSQL.

Writers on PostgreSQL run at READ COMMITTED (see ``uow``): every statement sees what was
committed when it started. A write that reads what it is about to change therefore first
locks it; a second writer of the same row waits, and once the first commits, the second's
next statement reads the committed result (a deleted row is gone: 404; a bumped revision
fails ``If-Match``: 412; a new interface is seen: 400). On SQLite every function here does
nothing: writers are already serialized by ``BEGIN IMMEDIATE`` (``engine``).

Lock strengths (PostgreSQL's row-lock modes):

- ``for_delete``: ``FOR UPDATE``, before deleting a row (conflicts with everything below).
- ``for_change``: ``FOR NO KEY UPDATE``, before updating a row, and on a network row to
  serialize the address and MAC picks of the ports created on it. It does not block
  ``for_use``.
- ``for_use``: ``FOR KEY SHARE``, on a row another row is about to reference (a security
  group a port binds): many writers may hold it at once, a delete waits for all of them.
- ``key``: a transaction-scoped advisory lock on a name, for things that have no row to lock
  (a project's usage count of a resource, checked against its quota before an insert).

Lock order (deadlocks are detected by PostgreSQL after ``deadlock_timeout`` and retried by
``Store.write``, but cost a second each): quota keys → routers → networks → subnets → subnet
pools → address scopes → address groups → ports → security groups → floating IPs → the
change-log lock, which ``Tx`` takes only when it flushes, just before commit. Several rows of
one table are locked in id order.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from neutrino.store import raw

_MODES = {"delete": "FOR UPDATE", "change": "FOR NO KEY UPDATE", "use": "FOR KEY SHARE"}
# The second half of two-int advisory keys; the change-log lock (``uow``) is a one-bigint
# key, a separate key space in PostgreSQL.
KEY_SPACE = 0x6E6C6B  # "nlk"


def enabled(conn: Connection) -> bool:
    """Whether locks are taken on this connection (PostgreSQL) or writers are serialized."""
    return conn.dialect.name == "postgresql"


def _lock(conn: Connection, table: str, ids: Iterable[str], mode: str) -> None:
    """Lock the rows of ``table`` with these ids that exist. Callers read the rows (again)
    afterwards: that read is the one that counts, since it sees the previous holder's commit."""
    wanted = sorted(set(ids))
    if not wanted or not enabled(conn):
        return
    marks = ", ".join("?" * len(wanted))
    raw.rows(
        conn, f"SELECT id FROM {table} WHERE id IN ({marks}) ORDER BY id {_MODES[mode]}", wanted
    )


def for_delete(conn: Connection, table: str, *ids: str) -> None:
    """Lock rows about to be deleted."""
    _lock(conn, table, ids, "delete")


def for_change(conn: Connection, table: str, *ids: str) -> None:
    """Lock rows about to be updated (or whose children are about to change)."""
    _lock(conn, table, ids, "change")


def for_use(conn: Connection, table: str, ids: Iterable[str]) -> None:
    """Share-lock rows about to be referenced, so they cannot be deleted meanwhile."""
    _lock(conn, table, ids, "use")


def key(conn: Connection, name: str) -> None:
    """Serialize the transactions that lock ``name`` until each commits (PostgreSQL)."""
    if enabled(conn):
        raw.run(
            conn, "SELECT pg_advisory_xact_lock(CAST(? AS integer), hashtext(?))", (KEY_SPACE, name)
        )
