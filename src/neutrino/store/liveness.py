"""Queries behind the liveness sweep: agents past their heartbeat deadline and what they hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select

from neutrino.store import locks, raw
from neutrino.store.models import Agent

agents = Agent.__table__


def stale_hosts(conn: Connection, agent_type: str, before: dt.datetime) -> list[str]:
    """Hosts whose ``agent_type`` agent last reported before ``before`` (an agent an admin
    set down is not dead: its host keeps working, as in Neutron)."""
    rows = conn.execute(
        select(agents.c.host)
        .where(agents.c.agent_type == agent_type, agents.c.heartbeat_timestamp < before)
        .order_by(agents.c.host)
    ).all()
    return [r[0] for r in rows]


def active_ports_on(conn: Connection, hosts: list[str]) -> list[tuple[Any, ...]]:
    """(id, project_id, network_id, revision_number) of ACTIVE ports bound to ``hosts``,
    row-locked in id order on PostgreSQL (``FOR NO KEY UPDATE``): a port whose status a
    concurrent report changed is re-read after that commit, and skipped if no longer ACTIVE."""
    lock = " FOR NO KEY UPDATE" if locks.enabled(conn) else ""
    return raw.rows_in(
        conn,
        f"SELECT id, project_id, network_id, revision_number FROM ports "
        f"WHERE status = ? AND binding_host_id IN ({{ids}}) ORDER BY id{lock}",
        hosts,
        ("ACTIVE", *hosts),
    )


def dhcp_ports_on(conn: Connection, owner: str, hosts: list[str]) -> list[tuple[str, str]]:
    """(port id, network id) of the DHCP ports bound to ``hosts``."""
    return [
        (r[0], r[1])
        for r in raw.rows_in(
            conn,
            "SELECT id, network_id FROM ports WHERE device_owner = ? AND "
            "binding_host_id IN ({ids}) ORDER BY id",
            hosts,
            (owner, *hosts),
        )
    ]
