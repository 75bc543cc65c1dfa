"""Inactive port bindings (``port_bindings``): the rows the binding service reads and writes.

The active binding is the port row's (``store.ports``); see ``models_bindings``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from neutrino.store.models_bindings import PortBinding

port_bindings = PortBinding.__table__
c = port_bindings.c


def of_port(conn: Connection, port_id: str) -> list[RowMapping]:
    stmt = select(port_bindings).where(c.port_id == port_id).order_by(c.host)
    return list(conn.execute(stmt).mappings())


def find(conn: Connection, port_id: str, host: str) -> RowMapping | None:
    stmt = select(port_bindings).where(c.port_id == port_id, c.host == host)
    return conn.execute(stmt).mappings().first()


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(port_bindings).values(**values))


def delete_row(conn: Connection, port_id: str, host: str) -> int:
    """Delete the port's inactive binding on ``host``; how many rows went (0 or 1)."""
    result = conn.execute(delete(port_bindings).where(c.port_id == port_id, c.host == host))
    return int(result.rowcount or 0)
