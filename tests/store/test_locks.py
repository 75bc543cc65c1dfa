"""Locks for read-modify-write transactions (``store.locks``) and the change log written at
the end of the transaction (``uow.Tx.flush``), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, text

from neutrino.store import locks
from neutrino.store.uow import Store, Tx


def test_key_lock_holds_a_second_writer_until_the_first_commits(store: Store) -> None:
    held = threading.Event()
    order: list[str] = []

    def first(tx: Tx) -> None:
        locks.key(tx.conn, "quota:p:port")
        held.set()
        time.sleep(0.5)
        order.append("first done")

    def second(tx: Tx) -> None:
        locks.key(tx.conn, "quota:p:port")
        order.append("second locked")

    t = threading.Thread(target=store.write, args=(first,))
    t.start()
    assert held.wait(10)
    store.write(second)  # on SQLite the writer lock orders them, on PostgreSQL the key
    t.join(10)
    assert order == ["first done", "second locked"]


def test_row_locks_on_missing_rows_and_empty_lists_do_nothing(store: Store) -> None:
    def fn(tx: Tx) -> None:
        locks.for_delete(tx.conn, "ports", "no-such-port")
        locks.for_change(tx.conn, "networks", "a", "b")
        locks.for_use(tx.conn, "security_groups", [])

    store.write(fn)  # no error, nothing found, nothing waited for


def test_change_log_rows_are_written_when_the_transaction_ends(store: Store) -> None:
    def count(conn: Connection) -> int:
        return int(conn.execute(text("SELECT count(*) FROM changes")).scalar_one())

    seen: list[int] = []

    def fn(tx: Tx) -> None:
        tx._record("network", "n1", "create", "p", "n1")
        tx._record("network", "n1", "update", "p", "n1")
        seen.append(count(tx.conn))  # not yet: appended after fn, just before commit

    store.write(fn)
    with store.read() as conn:
        rows = conn.execute(text("SELECT op FROM changes ORDER BY revision")).all()
    assert seen == [0]
    assert [r[0] for r in rows] == ["create", "update"]
