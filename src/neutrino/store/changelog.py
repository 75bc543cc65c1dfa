"""Reading the change log for people (the web UI's "recent changes"); agents and watchers read
it through ``hostsync`` and ``changefeed`` instead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from neutrino.store import raw


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
