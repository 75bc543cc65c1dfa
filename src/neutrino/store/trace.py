"""Queries behind the packet trace that the Neutron views do not answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from neutrino.store import raw


def system_owned_ports(conn: Connection) -> list[str]:
    """Ids of the ports the controller made itself (DHCP, router, floating IP): the agents
    never filter them, and the wire form does not say it."""
    return raw.column(conn, "SELECT id FROM ports WHERE system_owned")


def port_forwardings(conn: Connection) -> list[tuple[Any, ...]]:
    """Every port forwarding of a floating IP served by a router: (id, floating address,
    router id, protocol, external start, external end, internal address, internal start,
    internal end, project id)."""
    return raw.rows(
        conn,
        "SELECT pf.id, f.floating_ip_address, f.router_id, pf.protocol, "
        "pf.external_port_start, pf.external_port_end, pf.internal_ip_address, "
        "pf.internal_port_start, pf.internal_port_end, pf.project_id "
        "FROM port_forwardings pf JOIN floating_ips f ON f.id = pf.floatingip_id "
        "WHERE f.router_id IS NOT NULL ORDER BY pf.id",
    )
