"""Raw hot-path SQL shares the caller's transaction and reports driver errors as SQLAlchemy's,
so the unit of work retries races on either path (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from neutrino.store import raw
from neutrino.store.uow import Store, Tx


def test_unique_violation_is_sqlalchemy_integrity_error(store: Store) -> None:
    def insert_twice(tx: Tx) -> None:
        for _ in range(2):
            raw.run(tx.conn, "INSERT INTO roles (id, name) VALUES (?, ?)", ("r1", "dup"))

    with store.engines.write.connect() as conn, conn.begin():
        tx = Tx(conn, store.is_postgres)
        with pytest.raises(IntegrityError):
            insert_twice(tx)


def test_raw_writes_commit_and_roll_back_with_the_unit_of_work(store: Store) -> None:
    def insert_then_fail(tx: Tx) -> None:
        raw.run(tx.conn, "INSERT INTO roles (id, name) VALUES (?, ?)", ("r2", "gone"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.write(insert_then_fail)
    store.write(
        lambda tx: raw.run(tx.conn, "INSERT INTO roles (id, name) VALUES (?, ?)", ("r3", "kept"))
    )
    with store.read() as conn:
        names = {r[0] for r in raw.rows(conn, "SELECT name FROM roles")}
    assert names == {"kept"}
