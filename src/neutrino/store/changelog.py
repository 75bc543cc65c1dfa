"""Every read of the change log (``changes``): the latest revision, the changes since one, and
the newest for people (the web UI). Writes go through ``uow.Tx`` (the model: ``changes``).

Each read runs in the caller's transaction, so a cache reads the log and the rows it renders
in one snapshot. What a change means to a cache is the cache's own declaration
(``changes.Interest``); here are only the queries.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection

from neutrino.store import raw
from neutrino.store.changes import ChangeKind


class Logged(NamedTuple):
    resource_type: str
    resource_id: str
    op: str
    network_id: str | None


def latest(conn: Connection) -> int:
    """The latest revision visible to the transaction (0 for an empty log)."""
    found = raw.one(conn, "SELECT COALESCE(MAX(revision), 0) FROM changes")
    return int(found[0]) if found is not None else 0


def since(conn: Connection, revision: int, upto: int | None = None) -> list[Logged]:
    """The changes with ``revision < revision' <= upto`` (no bound: all later ones)."""
    sql = "SELECT resource_type, resource_id, op, network_id FROM changes WHERE revision > ?"
    params: tuple[Any, ...] = (revision,)
    if upto is not None:
        sql, params = f"{sql} AND revision <= ?", (revision, upto)
    return [Logged(*r) for r in raw.rows(conn, sql, params)]


def with_hosts(conn: Connection, revision: int) -> list[tuple[Any, ...]]:
    """(revision, resource_type, op, network_id, the port's binding host now, resource_id) of
    the changes after ``revision``, oldest first (the host is None but for a port that still
    exists): what host sync's watchers sort changes by, and build deltas from."""
    return raw.rows(
        conn,
        "SELECT c.revision, c.resource_type, c.op, c.network_id, p.binding_host_id, "
        "c.resource_id "
        "FROM changes c LEFT JOIN ports p ON c.resource_type = 'port' AND p.id = c.resource_id "
        "WHERE c.revision > ? ORDER BY c.revision",
        (revision,),
    )


def touched(
    conn: Connection, network_id: str, revision: int, ignored: frozenset[ChangeKind]
) -> tuple[int, bool]:
    """(latest revision, whether a change of a kind not in ``ignored`` named ``network_id``
    after ``revision``): one indexed look, for caches keyed by network."""
    skip = _names(ignored)
    marks = ", ".join("?" * len(skip)) or "''"
    found = raw.one(
        conn,
        "SELECT max(revision), max(CASE WHEN network_id = ? AND resource_type || ' ' || op "
        f"NOT IN ({marks}) THEN 1 ELSE 0 END) FROM changes WHERE revision > ?",
        (network_id, *skip, revision),
    )
    if found is None or found[0] is None:
        return revision, False
    return int(found[0]), bool(found[1])


@lru_cache(maxsize=16)
def _names(kinds: frozenset[ChangeKind]) -> tuple[str, ...]:
    return tuple(sorted(f"{k.resource.type} {k.op.value}" for k in kinds))


def recent(conn: Connection, project_id: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` changes, newest first; of one project unless ``project_id`` is
    None (an empty project matches only system-owned rows, which callers keep from members)."""
    where, params = ("", ()) if project_id is None else ("WHERE project_id = ? ", (project_id,))
    found = raw.rows(
        conn,
        "SELECT revision, resource_type, resource_id, op, created_at "
        f"FROM changes {where}ORDER BY revision DESC LIMIT ?",
        (*params, limit),
    )
    return [
        {
            "revision": r[0],
            "resource_type": r[1],
            "resource_id": r[2],
            "op": r[3],
            "created_at": raw.wire_time(r[4]),
        }
        for r in found
    ]
