"""Network segment range rows (``/v2.0/network_segment_ranges``) and the segment questions
their views and checks ask (which ids of a span are allocated, and to which project)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, false, insert, select

from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store.models import Network, SegmentAllocation
from neutrino.store.models_segment_ranges import NetworkSegmentRange
from neutrino.store.query import Column, listed, standard_columns
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

ranges = NetworkSegmentRange.__table__
allocations = SegmentAllocation.__table__
networks = Network.__table__
r = ranges.c
a = allocations.c

COLUMNS: dict[str, Column] = {
    **standard_columns(ranges),
    "default": Column(r.default_range, to_bool),
    "shared": Column(r.shared, to_bool),
    "network_type": Column(r.network_type),
    "physical_network": Column(r.physical_network),
    "minimum": Column(r.minimum, to_int),
    "maximum": Column(r.maximum, to_int),
}
HOOKS: dict[str, Any] = {**tag_filters(ranges), **changed_since_filter(ranges)}


def find(conn: Connection, range_id: str) -> RowMapping | None:
    return conn.execute(select(ranges).where(r.id == range_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, admin: bool) -> list[RowMapping]:
    """Ranges are the admin's (Neutron's policy): anyone else lists none."""
    scope = None if admin else false()
    return listed(conn, ranges, query, COLUMNS, HOOKS, "NetworkSegmentRange", scope)


def of_type(conn: Connection, network_type: str, physnet: str | None = None) -> list[RowMapping]:
    """Every range of a type (of one physical network when given), lowest first."""
    stmt = select(ranges).where(r.network_type == network_type)
    if physnet is not None:
        stmt = stmt.where(r.physical_network == physnet)
    return list(conn.execute(stmt.order_by(r.minimum, r.id)).mappings())


def defaults(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(ranges).where(r.default_range.is_(True))).mappings())


def overlapping(
    conn: Connection, network_type: str, physnet: str, lo: int, hi: int, skip: str | None
) -> list[str]:
    """Ids of the non-default ranges of that wire overlapping [lo, hi] (but ``skip``)."""
    stmt = select(r.id).where(
        r.default_range.is_(False),
        r.network_type == network_type,
        r.physical_network == physnet,
        r.minimum <= hi,
        r.maximum >= lo,
    )
    if skip is not None:
        stmt = stmt.where(r.id != skip)
    return list(conn.execute(stmt.order_by(r.id)).scalars())


def used(conn: Connection, network_type: str, physnet: str, lo: int, hi: int) -> dict[int, str]:
    """Allocated ids of the span, each with the project of the network holding it."""
    stmt = (
        select(a.segmentation_id, networks.c.project_id)
        .join(networks, networks.c.id == a.network_id)
        .where(
            a.network_type == network_type,
            a.physical_network == physnet,
            and_(a.segmentation_id >= lo, a.segmentation_id <= hi),
        )
        .order_by(a.segmentation_id)
    )
    return {int(seg): project for seg, project in conn.execute(stmt)}


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(ranges).values(**values))


def delete_rows(conn: Connection, range_ids: Iterable[str]) -> None:
    ids = list(range_ids)
    if ids:
        conn.execute(delete(ranges).where(r.id.in_(ids)))
