"""Router rows, their ports (``router_ports``) and extra routes, and the queries the router
service needs: a router's interfaces with their subnets, the subnets a router is attached
to, the list query with filters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import IpAllocation, Port, Subnet
from neutrino.store.models_l3 import Router, RouterPort, RouterRoute
from neutrino.store.query import Column, listed, own_rows, rows_by_key, standard_columns
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

routers = Router.__table__
router_ports = RouterPort.__table__
routes = RouterRoute.__table__
ports = Port.__table__
ips = IpAllocation.__table__
subnets = Subnet.__table__

INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"

c = routers.c
COLUMNS: dict[str, Column] = {
    **standard_columns(routers),
    "admin_state_up": Column(c.admin_state_up, to_bool),
    "status": Column(c.status),
}
HOOKS: dict[str, Any] = {**tag_filters(routers), **changed_since_filter(routers)}


def find(conn: Connection, router_id: str, *, for_update: bool = False) -> RowMapping | None:
    stmt = select(routers).where(c.id == router_id)
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).mappings().first()


def exists(conn: Connection, router_id: str) -> bool:
    return conn.execute(select(c.id).where(c.id == router_id)).first() is not None


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    return listed(conn, routers, query, COLUMNS, HOOKS, "Router", own_rows(routers, visible_to))


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(routers).values(**values))


def update_row(conn: Connection, router_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(routers).where(c.id == router_id).values(**values))


def delete_row(conn: Connection, router_id: str) -> None:
    conn.execute(delete(routes).where(routes.c.router_id == router_id))
    conn.execute(delete(router_ports).where(router_ports.c.router_id == router_id))
    conn.execute(delete(routers).where(c.id == router_id))


# --- router ports


def attach_port(conn: Connection, router_id: str, port_id: str, port_type: str) -> None:
    conn.execute(
        insert(router_ports).values(router_id=router_id, port_id=port_id, port_type=port_type)
    )


def port_ids(conn: Connection, router_id: str, port_type: str | None = None) -> list[str]:
    stmt = select(router_ports.c.port_id).where(router_ports.c.router_id == router_id)
    if port_type is not None:
        stmt = stmt.where(router_ports.c.port_type == port_type)
    return list(conn.execute(stmt.order_by(router_ports.c.port_id)).scalars())


def router_of_port(conn: Connection, port_id: str) -> str | None:
    found = raw.one(conn, "SELECT router_id FROM router_ports WHERE port_id = ?", (port_id,))
    return None if found is None else str(found[0])


def attached_subnets(
    conn: Connection, router_id: str, port_type: str | None = None
) -> list[RowMapping]:
    """(port_id, network_id, subnet_id, ip_address, cidr, ip_version) of every fixed IP of the
    router's ports (of ``port_type`` if given), in port creation order."""
    stmt = (
        select(
            ips.c.port_id,
            ips.c.network_id,
            ips.c.subnet_id,
            ips.c.ip_address,
            subnets.c.cidr,
            subnets.c.ip_version,
        )
        .join(router_ports, router_ports.c.port_id == ips.c.port_id)
        .join(subnets, subnets.c.id == ips.c.subnet_id)
        .join(ports, ports.c.id == ips.c.port_id)
        .where(router_ports.c.router_id == router_id)
        .order_by(ports.c.created_at, ports.c.id, ips.c.position)
    )
    if port_type is not None:
        stmt = stmt.where(router_ports.c.port_type == port_type)
    return list(conn.execute(stmt).mappings())


# --- extra routes


def routes_of(conn: Connection, router_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    stmt = select(routes.c.router_id, routes.c.destination, routes.c.nexthop)
    stmt = stmt.order_by(routes.c.destination, routes.c.nexthop)
    return rows_by_key(conn, stmt, list(router_ids))


def replace_routes(conn: Connection, router_id: str, items: Iterable[tuple[str, str]]) -> None:
    conn.execute(delete(routes).where(routes.c.router_id == router_id))
    rows = [
        {"router_id": router_id, "destination": d, "nexthop": n} for d, n in dict.fromkeys(items)
    ]
    if rows:
        conn.execute(insert(routes), rows)


def gateway_ports(conn: Connection, port_ids_: Iterable[str]) -> dict[str, RowMapping]:
    """Gateway port rows (id, network_id) by id."""
    ids = [p for p in port_ids_ if p]
    if not ids:
        return {}
    rows = conn.execute(select(ports.c.id, ports.c.network_id).where(ports.c.id.in_(ids)))
    return {r["id"]: r for r in rows.mappings()}


def fixed_ips(conn: Connection, port_ids_: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    ids = [p for p in port_ids_ if p]
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(ips.c.port_id, ips.c.subnet_id, ips.c.ip_address)
        .where(ips.c.port_id.in_(ids))
        .order_by(ips.c.port_id, ips.c.position)
    )
    for pid, sid, addr in conn.execute(stmt):
        out[pid].append((sid, addr))
    return out
