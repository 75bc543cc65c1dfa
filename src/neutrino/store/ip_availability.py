"""What ``network-ip-availability`` reads: per subnet its allocation pools and the number of
fixed IPs allocated in it, for a set of networks, in three queries whatever their number."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, select

from neutrino.store.models import AllocationPool, IpAllocation, Network, Subnet

networks = Network.__table__
subnets = Subnet.__table__
pools = AllocationPool.__table__
allocations = IpAllocation.__table__


def network_rows(conn: Connection, filters: dict[str, list[str]]) -> list[Any]:
    """Networks by ``network_id``/``network_name``/``project_id`` filters (OR within one)."""
    stmt = select(networks.c.id, networks.c.name, networks.c.project_id)
    for key, column in (
        ("network_id", networks.c.id),
        ("network_name", networks.c.name),
        ("project_id", networks.c.project_id),
    ):
        if key in filters:
            stmt = stmt.where(column.in_(filters[key]))
    return list(conn.execute(stmt.order_by(networks.c.id)).mappings())


def subnets_of(conn: Connection, network_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    if not network_ids:
        return out
    stmt = select(
        subnets.c.id, subnets.c.name, subnets.c.cidr, subnets.c.ip_version, subnets.c.network_id
    ).order_by(subnets.c.created_at, subnets.c.id)
    if len(network_ids) <= 500:
        stmt = stmt.where(subnets.c.network_id.in_(network_ids))
    for row in conn.execute(stmt).mappings():
        out[row["network_id"]].append(row)
    return out


def pools_of(conn: Connection) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for subnet_id, first, last in conn.execute(
        select(pools.c.subnet_id, pools.c.first_ip, pools.c.last_ip)
    ):
        out[subnet_id].append((first, last))
    return out


def used_counts(conn: Connection) -> dict[str, int]:
    return {
        subnet_id: int(n)
        for subnet_id, n in conn.execute(
            select(allocations.c.subnet_id, func.count()).group_by(allocations.c.subnet_id)
        )
    }
