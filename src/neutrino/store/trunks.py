"""Trunk and sub-port rows, and the questions ports and bindings ask of them.

Lists are one query for the trunks and one for the sub-ports of the listed trunks. A project
sees its own trunks (Neutron's policy: owner or admin; trunks are never shared). Sub-ports are
returned in the order they were added (``position``), as Neutron lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select

from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import Port
from neutrino.store.models_trunks import Trunk, TrunkSubPort
from neutrino.store.query import Column, listed, own_rows, rows_by_key, standard_columns
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

trunks = Trunk.__table__
subports = TrunkSubPort.__table__
ports = Port.__table__
t = trunks.c
s = subports.c

COLUMNS: dict[str, Column] = {
    **standard_columns(trunks),
    "admin_state_up": Column(t.admin_state_up, to_bool),
    "status": Column(t.status),
    "port_id": Column(t.port_id),
}
HOOKS: dict[str, Any] = {**tag_filters(trunks), **changed_since_filter(trunks)}

SubPortRow = tuple[str, str, int]  # (port_id, segmentation_type, segmentation_id)


def find(conn: Connection, trunk_id: str) -> RowMapping | None:
    return conn.execute(select(trunks).where(t.id == trunk_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """``visible_to`` None: every trunk (an admin)."""
    return listed(conn, trunks, query, COLUMNS, HOOKS, "Trunk", own_rows(trunks, visible_to))


def subports_of(conn: Connection, trunk_ids: Iterable[str]) -> dict[str, list[SubPortRow]]:
    stmt = select(s.trunk_id, s.port_id, s.segmentation_type, s.segmentation_id).order_by(
        s.trunk_id, s.position, s.port_id
    )
    return rows_by_key(conn, stmt, list(trunk_ids))


# raw (``store.raw``): asked on every port create and status report


def trunk_of_parent(conn: Connection, port_id: str) -> str | None:
    row = raw.one(conn, f"SELECT id FROM {trunks.name} WHERE port_id = ?", (port_id,))
    return None if row is None else str(row[0])


def trunk_of_subport(conn: Connection, port_id: str) -> str | None:
    row = raw.one(conn, f"SELECT trunk_id FROM {subports.name} WHERE port_id = ?", (port_id,))
    return None if row is None else str(row[0])


def details_of(conn: Connection, port_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``trunk_details`` of the parents among ``port_ids``: {port: {trunk_id, sub_ports}},
    each sub-port with its MAC (two queries, whatever the number of ports)."""
    ids = list(port_ids)
    if not ids:
        return {}
    stmt = select(t.id, t.port_id)
    if len(ids) <= 500:
        stmt = stmt.where(t.port_id.in_(ids))
    wanted = set(ids)
    parents = {trunk_id: port_id for trunk_id, port_id in conn.execute(stmt) if port_id in wanted}
    if not parents:
        return {}
    out: dict[str, dict[str, Any]] = {
        port_id: {"trunk_id": trunk_id, "sub_ports": []} for trunk_id, port_id in parents.items()
    }
    rows = conn.execute(
        select(s.trunk_id, s.port_id, s.segmentation_type, s.segmentation_id, ports.c.mac_address)
        .join(ports, ports.c.id == s.port_id)
        .where(s.trunk_id.in_(list(parents)))
        .order_by(s.trunk_id, s.position, s.port_id)
    )
    for trunk_id, port_id, seg_type, seg_id, mac in rows:
        out[parents[trunk_id]]["sub_ports"].append(
            {
                "segmentation_id": seg_id,
                "segmentation_type": seg_type,
                "port_id": port_id,
                "mac_address": mac,
            }
        )
    return out


def parents_among(conn: Connection, port_ids: Iterable[str]) -> set[str]:
    ids = list(port_ids)
    if not ids:
        return set()
    stmt = select(t.port_id)
    if len(ids) <= 500:
        stmt = stmt.where(t.port_id.in_(ids))
    wanted = set(ids)
    return {p for p in conn.execute(stmt).scalars() if p in wanted}


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(trunks).values(**values))


def add_subports(conn: Connection, trunk_id: str, items: list[SubPortRow]) -> None:
    start = conn.execute(
        select(func.coalesce(func.max(s.position), -1)).where(s.trunk_id == trunk_id)
    ).scalar_one()
    for offset, (port_id, seg_type, seg_id) in enumerate(items, start=start + 1):
        conn.execute(
            insert(subports).values(
                trunk_id=trunk_id,
                port_id=port_id,
                segmentation_type=seg_type,
                segmentation_id=seg_id,
                position=offset,
            )
        )


def remove_subports(conn: Connection, trunk_id: str, port_ids: list[str]) -> None:
    conn.execute(delete(subports).where(s.trunk_id == trunk_id, s.port_id.in_(port_ids)))


def segmentation_in_use(conn: Connection, trunk_id: str, seg_type: str, seg_id: int) -> bool:
    found = conn.execute(
        select(s.port_id).where(
            s.trunk_id == trunk_id, s.segmentation_type == seg_type, s.segmentation_id == seg_id
        )
    ).first()
    return found is not None


def delete_row(conn: Connection, trunk_id: str) -> None:
    """Delete a trunk; its sub-port rows go with it (ON DELETE CASCADE, and explicitly for
    SQLite connections without foreign keys)."""
    conn.execute(delete(subports).where(s.trunk_id == trunk_id))
    conn.execute(delete(trunks).where(t.id == trunk_id))
