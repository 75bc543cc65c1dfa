"""Auto-allocated topology rows (``service.auto_allocate``): one per project."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, insert, select

from neutrino.store.models_auto_allocate import AutoAllocatedTopology

topologies = AutoAllocatedTopology.__table__
t = topologies.c


def find(conn: Connection, project_id: str) -> RowMapping | None:
    return conn.execute(select(topologies).where(t.project_id == project_id)).mappings().first()


def insert_row(conn: Connection, project_id: str, network_id: str, router_id: str) -> None:
    conn.execute(
        insert(topologies).values(project_id=project_id, network_id=network_id, router_id=router_id)
    )
