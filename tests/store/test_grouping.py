"""Child rows grouped by parent id (``query.rows_by_key``, ``raw.grouped``): only the ids
asked for come back, in row order, whether the ids fit an IN list or the whole table is read
(more than ``IN_LIMIT``); SQLite and PostgreSQL."""

from __future__ import annotations

from neutrino.store import raw, tags
from neutrino.store.query import IN_LIMIT
from neutrino.store.uow import Store, Tx


def _tag(tx: Tx) -> None:
    for rid in ("a", "b", "c"):
        tags.replace_tags(tx.conn, "networks", rid, [f"t-{rid}", "z"])


def test_rows_by_key_keeps_only_the_asked_ids_past_the_in_limit(store: Store) -> None:
    store.write(_tag)
    many = ["a", "b", *(f"none-{i}" for i in range(IN_LIMIT))]
    with store.read() as conn:
        for asked in (["a", "b"], many):
            assert tags.tags_of(conn, asked) == {"a": ["t-a", "z"], "b": ["t-b", "z"]}
        assert tags.tags_of(conn, []) == {}


def test_raw_grouped_unwraps_one_column_and_keeps_tuples_of_more(store: Store) -> None:
    store.write(_tag)
    sql = "SELECT resource_id, tag{more} FROM tags WHERE resource_id IN ({{ids}}) ORDER BY tag"
    with store.read() as conn:
        one = raw.grouped(conn, sql.format(more=""), ["a", "c"])
        two = raw.grouped(conn, sql.format(more=", resource_type"), ["b"])
        assert one == {"a": ["t-a", "z"], "c": ["t-c", "z"]}
        assert two == {"b": [("t-b", "networks"), ("z", "networks")]}
        assert raw.grouped(conn, sql.format(more=""), []) == {}
