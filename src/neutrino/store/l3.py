"""Queries behind L3 scheduling (which host's L3 agent hosts a router) and routers' host state.

``router_l3_bindings`` holds one row per scheduled router (router id -> host). A router's
ports are its ``router_ports`` rows joined to ``ports``. Host-state reads (``hosted_*``) run
on every wake-up of an L3 host, so they are plain SQL with one query per table for all the
host's routers (no N+1). Agent rows go through Core (timestamps need type processing).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from neutrino.store import raw
from neutrino.store.models import Agent

L3_AGENT = "L3 agent"
agents = Agent.__table__


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


# --- scheduling ------------------------------------------------------------------------------


def l3_agents(conn: Connection) -> list[tuple[str, dt.datetime, bool]]:
    """(host, heartbeat_timestamp, admin_state_up) of every L3 agent, by host."""
    rows = conn.execute(
        select(agents.c.host, agents.c.heartbeat_timestamp, agents.c.admin_state_up)
        .where(agents.c.agent_type == L3_AGENT)
        .order_by(agents.c.host)
    ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def is_l3_host(conn: Connection, host: str) -> bool:
    return (
        raw.one(conn, "SELECT 1 FROM agents WHERE agent_type = ? AND host = ?", (L3_AGENT, host))
        is not None
    )


def router_host(conn: Connection, router_id: str) -> str | None:
    row = raw.one(conn, "SELECT host FROM router_l3_bindings WHERE router_id = ?", (router_id,))
    return None if row is None else str(row[0])


def set_router_host(conn: Connection, router_id: str, host: str | None) -> None:
    """Bind the router to ``host`` (None: unschedule it)."""
    raw.run(conn, "DELETE FROM router_l3_bindings WHERE router_id = ?", (router_id,))
    if host is not None:
        raw.run(
            conn,
            "INSERT INTO router_l3_bindings (router_id, host) VALUES (?, ?)",
            (router_id, host),
        )


def router_ports(conn: Connection, router_id: str) -> list[tuple[Any, ...]]:
    """(port_id, network_id, binding_host_id, project_id, revision_number) of the router's
    ports (interfaces and gateway), by id."""
    return raw.rows(
        conn,
        "SELECT p.id, p.network_id, p.binding_host_id, p.project_id, "
        "p.revision_number FROM router_ports rp JOIN ports p "
        "ON p.id = rp.port_id WHERE rp.router_id = ? ORDER BY p.id",
        (router_id,),
    )


def routers_with_ports(conn: Connection) -> list[tuple[str, str | None]]:
    """(router_id, scheduled host or None) of every router with at least one port."""
    return [
        (r[0], r[1])
        for r in raw.rows(
            conn,
            "SELECT DISTINCT rp.router_id, b.host FROM router_ports rp "
            "LEFT JOIN router_l3_bindings b ON b.router_id = rp.router_id "
            "ORDER BY rp.router_id",
        )
    ]


def l3_load(conn: Connection, hosts: Sequence[str]) -> dict[str, int]:
    """host -> how many routers it hosts (the scheduler's load measure)."""
    if not hosts:
        return {}
    rows = raw.rows(
        conn,
        f"SELECT host, COUNT(*) FROM router_l3_bindings "
        f"WHERE host IN ({_marks(hosts)}) GROUP BY host",
        tuple(hosts),
    )
    return {h: int(n) for h, n in rows}


# --- host state ------------------------------------------------------------------------------


def hosted_routers(conn: Connection, host: str) -> list[tuple[Any, ...]]:
    """(id, admin_state_up, enable_snat, gw_port_id) of the routers scheduled to ``host``."""
    return raw.rows(
        conn,
        "SELECT r.id, r.admin_state_up, r.enable_snat, r.gw_port_id "
        "FROM router_l3_bindings b JOIN routers r ON r.id = b.router_id "
        "WHERE b.host = ? ORDER BY r.id",
        (host,),
    )


def hosted_ports(conn: Connection, router_ids: Sequence[str], host: str) -> list[tuple[Any, ...]]:
    """(router_id, port_id, port_type, network_id, mac_address) of the routers' ports bound
    on ``host`` with a successful binding."""
    if not router_ids:
        return []
    return raw.rows(
        conn,
        f"SELECT rp.router_id, p.id, rp.port_type, p.network_id, "
        f"p.mac_address FROM router_ports rp JOIN ports p ON p.id = rp.port_id "
        f"WHERE rp.router_id IN ({_marks(router_ids)}) "
        f"AND p.binding_host_id = ? AND p.binding_vif_type = 'bridge' "
        f"ORDER BY rp.router_id, p.id",
        (*router_ids, host),
    )


def subnet_rows(conn: Connection, subnet_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """subnet id -> (cidr, gateway_ip)."""
    if not subnet_ids:
        return {}
    rows = raw.rows(
        conn,
        f"SELECT id, cidr, gateway_ip FROM subnets WHERE id IN ({_marks(subnet_ids)})",
        tuple(subnet_ids),
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def extra_routes(conn: Connection, router_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not router_ids:
        return out
    for rid, dest, hop in raw.rows(
        conn,
        f"SELECT router_id, destination, nexthop FROM "
        f"router_routes WHERE router_id IN "
        f"({_marks(router_ids)}) ORDER BY router_id, "
        f"destination, nexthop",
        tuple(router_ids),
    ):
        out[rid].append((dest, hop))
    return out


def floating_ips(
    conn: Connection, router_ids: Sequence[str]
) -> dict[str, list[tuple[str, str, str, str]]]:
    """router id -> [(fip id, floating address, fixed address, fixed port id)] of its
    associated floating IPs."""
    out: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    if not router_ids:
        return out
    for rid, fid, fip, fixed, port in raw.rows(
        conn,
        f"SELECT router_id, id, floating_ip_address, fixed_ip_address, fixed_port_id "
        f"FROM floating_ips WHERE router_id IN ({_marks(router_ids)}) "
        f"AND fixed_ip_address IS NOT NULL AND fixed_port_id IS NOT NULL "
        f"ORDER BY router_id, floating_ip_address",
        tuple(router_ids),
    ):
        out[rid].append((fid, fip, fixed, port))
    return out
