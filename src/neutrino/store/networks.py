"""Network rows, their segment allocations and the queries the network service needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from neutrino.common.errors import ResourceNotFound
from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import Network, Port, SegmentAllocation, Subnet
from neutrino.store.models_auto_allocate import AutoAllocatedTopology
from neutrino.store.query import (
    Column,
    listed,
    nullable_int,
    nullable_str,
    standard_columns,
)
from neutrino.store.rbac import shared_scope
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

networks = Network.__table__
segments = SegmentAllocation.__table__
subnets = Subnet.__table__
ports = Port.__table__
topologies = AutoAllocatedTopology.__table__


c = networks.c
COLUMNS: dict[str, Column] = {
    **standard_columns(networks),
    "admin_state_up": Column(c.admin_state_up, to_bool),
    "status": Column(c.status),
    "shared": Column(c.shared, to_bool),
    "mtu": Column(c.mtu, to_int),
    "port_security_enabled": Column(c.port_security_enabled, to_bool),
    "router:external": Column(c.router_external, to_bool),
    "is_default": Column(c.is_default, to_bool),
    "provider:network_type": Column(c.network_type, nullable_str),
    "provider:physical_network": Column(c.physical_network, nullable_str),
    "provider:segmentation_id": Column(c.segmentation_id, nullable_int),
}
HOOKS: dict[str, Any] = {**tag_filters(networks), **changed_since_filter(networks)}


def get(conn: Connection, network_id: str, *, for_update: bool = False) -> RowMapping:
    stmt = select(networks).where(c.id == network_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise ResourceNotFound("Network", network_id)
    return row


def find(conn: Connection, network_id: str) -> RowMapping | None:
    return conn.execute(select(networks).where(c.id == network_id)).mappings().first()


def for_port(conn: Connection, network_id: str) -> tuple[str, bool, bool, bool] | None:
    """(project_id, shared, port_security_enabled, router_external): what a port create
    needs to know."""
    found = raw.one(
        conn,
        "SELECT project_id, shared, port_security_enabled, router_external "
        "FROM networks WHERE id = ?",
        (network_id,),
    )
    return None if found is None else (found[0], bool(found[1]), bool(found[2]), bool(found[3]))


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    scope = shared_scope(networks, visible_to)
    return listed(conn, networks, query, COLUMNS, HOOKS, "Network", scope)


def subnet_ids(conn: Connection, network_ids: Iterable[str] | None) -> dict[str, list[str]]:
    stmt = select(subnets.c.network_id, subnets.c.id).order_by(subnets.c.created_at, subnets.c.id)
    if network_ids is not None:
        ids = list(network_ids)
        if len(ids) <= 500:
            stmt = stmt.where(subnets.c.network_id.in_(ids))
    out: dict[str, list[str]] = defaultdict(list)
    for net_id, sub_id in conn.execute(stmt):
        out[net_id].append(sub_id)
    return out


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(networks).values(**values))


def delete_row(conn: Connection, network_id: str) -> None:
    conn.execute(delete(segments).where(segments.c.network_id == network_id))
    conn.execute(delete(networks).where(c.id == network_id))


def used_segment_ids(conn: Connection, network_type: str, physnet: str) -> set[int]:
    return set(
        conn.execute(
            select(segments.c.segmentation_id).where(
                segments.c.network_type == network_type, segments.c.physical_network == physnet
            )
        ).scalars()
    )


def segment_owner(conn: Connection, network_type: str, physnet: str, seg_id: int) -> str | None:
    return conn.execute(
        select(segments.c.network_id).where(
            segments.c.network_type == network_type,
            segments.c.physical_network == physnet,
            segments.c.segmentation_id == seg_id,
        )
    ).scalar()


def insert_segment(
    conn: Connection, network_id: str, network_type: str, physnet: str, seg_id: int
) -> None:
    conn.execute(
        insert(segments).values(
            network_type=network_type,
            physical_network=physnet,
            segmentation_id=seg_id,
            network_id=network_id,
        )
    )


def default_external(conn: Connection) -> str | None:
    """The external network marked ``is_default``, if any."""
    stmt = select(c.id).where(c.router_external.is_(True), c.is_default.is_(True))
    return conn.execute(stmt.order_by(c.id)).scalars().first()


def forget_topology(conn: Connection, network_id: str) -> None:
    """A network goes: so does the auto-allocated topology naming it (the key cascades
    too; this says so where it happens)."""
    conn.execute(delete(topologies).where(topologies.c.network_id == network_id))


def port_ids_on(conn: Connection, network_id: str) -> list[tuple[str, str]]:
    """(port id, device_owner) of every port on the network."""
    return [
        tuple(r)
        for r in conn.execute(
            select(ports.c.id, ports.c.device_owner).where(ports.c.network_id == network_id)
        )
    ]
