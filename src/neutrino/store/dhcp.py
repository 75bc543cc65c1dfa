"""Queries behind DHCP scheduling: live DHCP agents, DHCP-enabled subnets, DHCP ports.

A network "needs DHCP" when at least one of its subnets has ``enable_dhcp``; it is served by
its ``network:dhcp`` ports, one per serving host (``binding_host_id``). Agent rows go through
Core (their timestamps need SQLAlchemy's type processing); the rest is plain SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from neutrino.store import raw
from neutrino.store.models import Agent

DHCP_AGENT = "DHCP agent"
DHCP_OWNER = "network:dhcp"
agents = Agent.__table__


def dhcp_agents(conn: Connection) -> list[tuple[str, dt.datetime, bool]]:
    """(host, heartbeat_timestamp, admin_state_up) of every DHCP agent, by host."""
    rows = conn.execute(
        select(agents.c.host, agents.c.heartbeat_timestamp, agents.c.admin_state_up)
        .where(agents.c.agent_type == DHCP_AGENT)
        .order_by(agents.c.host)
    ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def dhcp_subnets(conn: Connection, network_id: str) -> list[str]:
    """Ids of the network's subnets with ``enable_dhcp``, by id."""
    return [
        r[0]
        for r in raw.rows(
            conn,
            "SELECT id FROM subnets WHERE network_id = ? AND enable_dhcp = ? ORDER BY id",
            (network_id, True),
        )
    ]


def networks_needing_dhcp(conn: Connection) -> list[str]:
    """Ids of the networks with at least one DHCP-enabled subnet."""
    return [
        r[0]
        for r in raw.rows(
            conn,
            "SELECT DISTINCT network_id FROM subnets WHERE enable_dhcp = ? ORDER BY network_id",
            (True,),
        )
    ]


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
    """host -> how many DHCP ports it holds (the scheduler's load measure)."""
    if not hosts:
        return {}
    marks = ",".join("?" * len(hosts))
    rows = raw.rows(
        conn,
        f"SELECT binding_host_id, COUNT(*) FROM ports WHERE device_owner = ? "
        f"AND binding_host_id IN ({marks}) GROUP BY binding_host_id",
        (DHCP_OWNER, *hosts),
    )
    return {h: int(n) for h, n in rows}


def network_project(conn: Connection, network_id: str) -> str | None:
    row = raw.one(conn, "SELECT project_id FROM networks WHERE id = ?", (network_id,))
    return None if row is None else str(row[0])
