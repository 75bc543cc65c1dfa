"""Network segment rows (``/v2.0/segments``) and the questions networks and subnets ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, false, func, insert, select

from neutrino.domain.listing import ListQuery
from neutrino.store.models import SegmentAllocation, Subnet
from neutrino.store.models_trunks import NetworkSegment
from neutrino.store.query import (
    Column,
    listed,
    nullable_int,
    nullable_str,
    timestamp_column,
)
from neutrino.store.timestamps import changed_since_filter

segments = NetworkSegment.__table__
subnets = Subnet.__table__
allocations = SegmentAllocation.__table__
g = segments.c

COLUMNS: dict[str, Column] = {
    "id": Column(g.id),
    "name": Column(g.name),
    "description": Column(g.description),
    "network_id": Column(g.network_id),
    "network_type": Column(g.network_type),
    "physical_network": Column(g.physical_network, nullable_str),
    "segmentation_id": Column(g.segmentation_id, nullable_int),
    "revision_number": Column(g.revision_number, int),
    "created_at": timestamp_column(g.created_at),
    "updated_at": timestamp_column(g.updated_at),
}
HOOKS: dict[str, Any] = {**changed_since_filter(segments)}


def find(conn: Connection, segment_id: str) -> RowMapping | None:
    return conn.execute(select(segments).where(g.id == segment_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """Segments are the admin's (Neutron's policy): anyone else lists none."""
    scope = None if visible_to is None else false()
    return listed(conn, segments, query, COLUMNS, HOOKS, "Segment", scope)


def of_network(conn: Connection, network_id: str) -> list[RowMapping]:
    stmt = select(segments).where(g.network_id == network_id).order_by(g.segment_index, g.id)
    return list(conn.execute(stmt).mappings())


def multi(conn: Connection, network_ids: Iterable[str]) -> dict[str, list[RowMapping]]:
    """The segments of those networks that have more than one (multi-provider networks)."""
    ids = list(network_ids)
    out: dict[str, list[RowMapping]] = defaultdict(list)
    if not ids:
        return out
    several = select(g.network_id).group_by(g.network_id).having(func.count() > 1)
    stmt = select(segments).where(g.network_id.in_(several)).order_by(g.segment_index, g.id)
    wanted = set(ids)
    for row in conn.execute(stmt).mappings():
        if row["network_id"] in wanted:
            out[row["network_id"]].append(row)
    return out


def next_index(conn: Connection, network_id: str) -> int:
    found = conn.execute(
        select(func.coalesce(func.max(g.segment_index), -1)).where(g.network_id == network_id)
    ).scalar_one()
    return int(found) + 1


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(segments).values(**values))


def delete_row(conn: Connection, segment_id: str) -> None:
    conn.execute(delete(segments).where(g.id == segment_id))


def subnets_on(conn: Connection, segment_id: str) -> list[str]:
    stmt = select(subnets.c.id).where(subnets.c.segment_id == segment_id).order_by(subnets.c.id)
    return list(conn.execute(stmt).scalars())


def subnet_segment_ids(conn: Connection, network_id: str) -> set[str | None]:
    stmt = select(subnets.c.segment_id).where(subnets.c.network_id == network_id).distinct()
    return set(conn.execute(stmt).scalars())


def delete_allocation(
    conn: Connection, network_type: str, physnet: str | None, seg_id: int | None
) -> None:
    a = allocations.c
    conn.execute(
        delete(allocations).where(
            a.network_type == network_type,
            a.physical_network == (physnet or ""),
            a.segmentation_id == (seg_id or 0),
        )
    )
