"""Floating IP rows and the queries the floating IP service needs: the list query with
filters, the association lookups (by fixed port, by router), the router that can NAT a
subnet to an external network, the ports shown in ``port_details`` and the pools.

Wire names differ from columns in one place, as in Neutron: the ``port_id`` filter and sort
key is the ``fixed_port_id`` column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from neutrino.domain.listing import ListQuery
from neutrino.store.models import IpAllocation, Network, Port, Subnet
from neutrino.store.models_l3 import FloatingIp, RouterPort
from neutrino.store.query import (
    Column,
    listed,
    nullable_str,
    own_rows,
    standard_columns,
)
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

floating_ips = FloatingIp.__table__
ports = Port.__table__
ips = IpAllocation.__table__
subnets = Subnet.__table__
networks = Network.__table__
router_ports = RouterPort.__table__

DEVICE_OWNER = "network:floatingip"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"

c = floating_ips.c
COLUMNS: dict[str, Column] = {
    **{k: v for k, v in standard_columns(floating_ips).items() if k != "name"},
    "floating_ip_address": Column(c.floating_ip_address),
    "floating_network_id": Column(c.floating_network_id),
    "router_id": Column(c.router_id, nullable_str),
    "port_id": Column(c.fixed_port_id, nullable_str),
    "fixed_ip_address": Column(c.fixed_ip_address, nullable_str),
    "status": Column(c.status),
}
HOOKS: dict[str, Any] = {**tag_filters(floating_ips), **changed_since_filter(floating_ips)}


def find(conn: Connection, fip_id: str, *, for_update: bool = False) -> RowMapping | None:
    stmt = select(floating_ips).where(c.id == fip_id)
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    scope = own_rows(floating_ips, visible_to)
    return listed(conn, floating_ips, query, COLUMNS, HOOKS, "Floating IP", scope)


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(floating_ips).values(**values))


def delete_row(conn: Connection, fip_id: str) -> None:
    conn.execute(delete(floating_ips).where(c.id == fip_id))


# --- associations


def on_fixed_port(conn: Connection, port_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(floating_ips).where(c.fixed_port_id == port_id).order_by(c.id)
        ).mappings()
    )


def on_network(conn: Connection, network_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(floating_ips).where(c.floating_network_id == network_id).order_by(c.id)
        ).mappings()
    )


def on_router(conn: Connection, router_id: str) -> list[RowMapping]:
    return list(
        conn.execute(select(floating_ips).where(c.router_id == router_id).order_by(c.id)).mappings()
    )


def of_floating_port(conn: Connection, port_id: str) -> RowMapping | None:
    return (
        conn.execute(select(floating_ips).where(c.floating_port_id == port_id)).mappings().first()
    )


def holder_of(conn: Connection, network_id: str, port_id: str, fixed_ip: str) -> str | None:
    """The floating IP on ``network_id`` already associated with (port, fixed IP), if any."""
    found = conn.execute(
        select(c.id).where(
            c.floating_network_id == network_id,
            c.fixed_port_id == port_id,
            c.fixed_ip_address == fixed_ip,
        )
    ).first()
    return None if found is None else str(found[0])


def routers_for(
    conn: Connection, network_id: str, subnet_id: str, external_network_id: str
) -> list[tuple[str, str]]:
    """(router id, interface address) of every router with an interface on ``subnet_id`` (of
    ``network_id``) and its gateway on ``external_network_id``; Neutron's
    ``get_router_for_floatingip`` query."""
    gw = ports.alias("gw")
    stmt = (
        select(router_ports.c.router_id, ips.c.ip_address)
        .join(ports, ports.c.id == router_ports.c.port_id)
        .join(ips, ips.c.port_id == ports.c.id)
        .join(gw, gw.c.device_id == router_ports.c.router_id)
        .where(
            ports.c.network_id == network_id,
            router_ports.c.port_type == ROUTER_INTERFACE,
            ips.c.subnet_id == subnet_id,
            gw.c.network_id == external_network_id,
            gw.c.device_owner == ROUTER_GATEWAY,
        )
        .distinct()
        .order_by(router_ports.c.router_id, ips.c.ip_address)
    )
    return [(str(r), str(a)) for r, a in conn.execute(stmt)]


def fixed_ips(conn: Connection, port_id: str) -> list[tuple[str, str]]:
    """(subnet_id, ip_address) of a port, in the port's order."""
    stmt = (
        select(ips.c.subnet_id, ips.c.ip_address)
        .where(ips.c.port_id == port_id)
        .order_by(ips.c.position)
    )
    return [(str(s), str(a)) for s, a in conn.execute(stmt)]


def port_details(conn: Connection, port_ids: Iterable[str]) -> dict[str, RowMapping]:
    """The ``fip-port-details`` columns of the given ports, by id."""
    ids = sorted({p for p in port_ids if p})
    if not ids:
        return {}
    stmt = select(
        ports.c.id,
        ports.c.name,
        ports.c.network_id,
        ports.c.mac_address,
        ports.c.admin_state_up,
        ports.c.status,
        ports.c.device_id,
        ports.c.device_owner,
    ).where(ports.c.id.in_(ids))
    return {r["id"]: r for r in conn.execute(stmt).mappings()}


# --- pools


def pools(conn: Connection) -> list[RowMapping]:
    """IPv4 subnets of external networks: the ``floatingip_pools``."""
    stmt = (
        select(
            subnets.c.id, subnets.c.name, subnets.c.network_id, subnets.c.cidr, subnets.c.project_id
        )
        .join(networks, networks.c.id == subnets.c.network_id)
        .where(networks.c.router_external.is_(True), subnets.c.ip_version == 4)
        .order_by(subnets.c.network_id, subnets.c.created_at, subnets.c.id)
    )
    return list(conn.execute(stmt).mappings())
