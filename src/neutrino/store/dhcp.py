"""Queries behind DHCP scheduling: live DHCP agents, DHCP-enabled subnets, DHCP ports.

A network "needs DHCP" when at least one of its subnets has ``enable_dhcp``. The hosts that
serve it are its bindings (``dhcp_bindings``); each holds one ``network:dhcp`` port on it
(``binding_host_id``) while it needs DHCP. Agent rows go through
Core (their timestamps need SQLAlchemy's type processing); the rest is plain SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from neutrino.store import agents as agents_repo
from neutrino.store import raw
from neutrino.store.models import Agent, DhcpBinding

DHCP_AGENT = "DHCP agent"
DHCP_OWNER = "network:dhcp"
agents = Agent.__table__
bindings = DhcpBinding.__table__


def dhcp_agents(conn: Connection) -> list[tuple[str, dt.datetime, bool]]:
    """(host, heartbeat_timestamp, admin_state_up) of every DHCP agent, by host."""
    rows = conn.execute(
        select(agents.c.host, agents.c.heartbeat_timestamp, agents.c.admin_state_up)
        .where(agents.c.agent_type == DHCP_AGENT)
        .order_by(agents.c.host)
    ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def network_zones(conn: Connection, network_ids: Sequence[str]) -> dict[str, list[str]]:
    """network id -> the sorted zones of the DHCP agents serving it (``availability_zones``)."""
    out: dict[str, list[str]] = {}
    for nid, zone in raw.rows_in(
        conn,
        "SELECT DISTINCT b.network_id, a.availability_zone FROM dhcp_bindings b "
        "JOIN agents a ON a.host = b.host AND a.agent_type = ? "
        "WHERE a.availability_zone IS NOT NULL AND a.availability_zone <> '' "
        "AND b.network_id IN ({ids}) ORDER BY b.network_id, a.availability_zone",
        network_ids,
        (DHCP_AGENT, *network_ids),
    ):
        out.setdefault(str(nid), []).append(str(zone))
    return out


def network_hints(conn: Connection, network_id: str) -> list[str]:
    row = raw.one(conn, "SELECT availability_zone_hints FROM networks WHERE id = ?", (network_id,))
    return agents_repo.zone_list(row[0] if row else "")


def dhcp_subnets(conn: Connection, network_id: str) -> list[str]:
    """Ids of the network's subnets with ``enable_dhcp``, by id."""
    return raw.column(
        conn,
        "SELECT id FROM subnets WHERE network_id = ? AND enable_dhcp = ? ORDER BY id",
        (network_id, True),
    )


def networks_needing_dhcp(conn: Connection) -> list[str]:
    """Ids of the networks with at least one DHCP-enabled subnet."""
    return raw.column(
        conn,
        "SELECT DISTINCT network_id FROM subnets WHERE enable_dhcp = ? ORDER BY network_id",
        (True,),
    )


def dhcp_ports(conn: Connection, network_id: str) -> list[tuple[Any, ...]]:
    """(id, binding_host_id, mac_address, project_id, revision_number) of the network's
    DHCP ports, by id."""
    return raw.rows(
        conn,
        "SELECT id, binding_host_id, mac_address, project_id, "
        "revision_number FROM ports WHERE network_id = ? AND device_owner = ? "
        "ORDER BY id",
        (network_id, DHCP_OWNER),
    )


def dhcp_load(conn: Connection, hosts: Sequence[str]) -> dict[str, int]:
    """host -> how many networks it serves (the scheduler's load measure)."""
    if not hosts:
        return {}
    rows = conn.execute(
        select(bindings.c.host, func.count())
        .where(bindings.c.host.in_(hosts))
        .group_by(bindings.c.host)
    )
    return {h: int(n) for h, n in rows}


def bound_hosts(conn: Connection, network_id: str) -> list[str]:
    """Hosts serving the network, by name."""
    rows = conn.execute(
        select(bindings.c.host).where(bindings.c.network_id == network_id).order_by(bindings.c.host)
    )
    return [r[0] for r in rows]


def networks_of_host(conn: Connection, host: str) -> list[str]:
    """Networks the host serves, by id."""
    rows = conn.execute(
        select(bindings.c.network_id).where(bindings.c.host == host).order_by(bindings.c.network_id)
    )
    return [r[0] for r in rows]


def bind(conn: Connection, network_id: str, host: str) -> None:
    conn.execute(insert(bindings).values(network_id=network_id, host=host))


def unbind(conn: Connection, network_id: str, host: str) -> bool:
    """Remove the binding; False when there was none."""
    gone = conn.execute(
        delete(bindings).where(bindings.c.network_id == network_id, bindings.c.host == host)
    )
    return bool(gone.rowcount)


def network_project(conn: Connection, network_id: str) -> str | None:
    row = raw.one(conn, "SELECT project_id FROM networks WHERE id = ?", (network_id,))
    return None if row is None else str(row[0])
