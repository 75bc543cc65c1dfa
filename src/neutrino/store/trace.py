"""Queries behind the packet trace that the Neutron views do not answer."""

from __future__ import annotations

from sqlalchemy import Connection

from neutrino.store import raw


def system_owned_ports(conn: Connection) -> list[str]:
    """Ids of the ports the controller made itself (DHCP, router, floating IP): the agents
    never filter them, and the wire form does not say it."""
    return [r[0] for r in raw.rows(conn, "SELECT id FROM ports WHERE system_owned")]
