"""Agent rows: one per (agent_type, host), upserted by registration/heartbeat reports."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from neutrino.common.errors import ResourceNotFound
from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import Agent
from neutrino.store.query import Column, listed

agents = Agent.__table__
c = agents.c
COLUMNS: dict[str, Column] = {
    "id": Column(c.id),
    "agent_type": Column(c.agent_type),
    "binary": Column(c.binary),
    "topic": Column(c.topic),
    "host": Column(c.host),
    "admin_state_up": Column(c.admin_state_up, to_bool),
    "availability_zone": Column(c.availability_zone),
    "description": Column(c.description),
}


def list_rows(conn: Connection, query: ListQuery) -> list[RowMapping]:
    return listed(conn, agents, query, COLUMNS, {}, "Agent")


def get(conn: Connection, agent_id: str) -> RowMapping:
    row = conn.execute(select(agents).where(c.id == agent_id)).mappings().first()
    if row is None:
        raise ResourceNotFound("Agent", agent_id)
    return row


def update_row(conn: Connection, agent_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(agents).where(c.id == agent_id).values(**values))


def delete_row(conn: Connection, agent_id: str) -> None:
    conn.execute(delete(agents).where(c.id == agent_id))


def find_by_host(conn: Connection, agent_type: str, host: str) -> RowMapping | None:
    return (
        conn.execute(select(agents).where(c.agent_type == agent_type, c.host == host))
        .mappings()
        .first()
    )


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(agents).values(**values))


def agent_zones(conn: Connection, agent_type: str) -> dict[str, str]:
    """host -> availability zone of every agent of that type that has one."""
    return {
        str(h): str(z)
        for h, z in raw.rows(
            conn,
            "SELECT host, availability_zone FROM agents WHERE agent_type = ? "
            "AND availability_zone IS NOT NULL AND availability_zone <> ''",
            (agent_type,),
        )
    }


def zone_list(text: str | None) -> list[str]:
    """A stored hints column as the list it holds."""
    if not text:
        return []
    value = orjson.loads(text)
    return [str(v) for v in value] if isinstance(value, list) else []
