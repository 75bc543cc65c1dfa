"""Queries behind L3 scheduling (which host's L3 agent hosts a router) and routers' host state.

``router_l3_bindings`` holds one row per (router, host) hosting it: one for a legacy router,
one per L3 agent for an HA router (with the VRRP state its agent reported). A router's ports
are its ``router_ports`` rows joined to ``ports``; an HA router's HA ports (one per host, on
the project's HA network) are among them with port type ``network:router_ha_interface``.
Host-state reads (``hosted_*``) run on every wake-up of an L3 host, so they are plain SQL
with one query per table for all the host's routers (no N+1). Agent rows go through Core
(timestamps need type processing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from neutrino.store import raw
from neutrino.store.models import Agent

L3_AGENT = "L3 agent"
HA_INTERFACE = "network:router_ha_interface"
agents = Agent.__table__


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


def router_hosts(conn: Connection, router_id: str) -> list[str]:
    return raw.column(
        conn, "SELECT host FROM router_l3_bindings WHERE router_id = ? ORDER BY host", (router_id,)
    )


def routers_of_host(conn: Connection, host: str) -> list[str]:
    """The ids of the routers ``host`` hosts, by id."""
    return raw.column(
        conn, "SELECT router_id FROM router_l3_bindings WHERE host = ? ORDER BY router_id", (host,)
    )


def router_zones(conn: Connection, router_ids: Sequence[str]) -> dict[str, list[str]]:
    """router id -> the sorted zones of the L3 agents hosting it (``availability_zones``)."""
    out: dict[str, list[str]] = {}
    for rid, zone in raw.rows_in(
        conn,
        "SELECT DISTINCT b.router_id, a.availability_zone FROM router_l3_bindings b "
        "JOIN agents a ON a.host = b.host AND a.agent_type = ? "
        "WHERE a.availability_zone IS NOT NULL AND a.availability_zone <> '' "
        "AND b.router_id IN ({ids}) ORDER BY b.router_id, a.availability_zone",
        router_ids,
        (L3_AGENT, *router_ids),
    ):
        out.setdefault(str(rid), []).append(str(zone))
    return out


def router_hints(conn: Connection, router_id: str) -> str:
    row = raw.one(conn, "SELECT availability_zone_hints FROM routers WHERE id = ?", (router_id,))
    return str(row[0] or "") if row else ""


def set_router_host(conn: Connection, router_id: str, host: str | None) -> None:
    """Bind the router to ``host`` alone (None: unschedule it)."""
    raw.run(conn, "DELETE FROM router_l3_bindings WHERE router_id = ?", (router_id,))
    if host is not None:
        add_router_host(conn, router_id, host)


def add_router_host(conn: Connection, router_id: str, host: str) -> None:
    raw.run(
        conn,
        "INSERT INTO router_l3_bindings (router_id, host) VALUES (?, ?)",
        (router_id, host),
    )


def remove_router_host(conn: Connection, router_id: str, host: str) -> None:
    raw.run(
        conn,
        "DELETE FROM router_l3_bindings WHERE router_id = ? AND host = ?",
        (router_id, host),
    )


def ha_states(conn: Connection, router_id: str) -> dict[str, str | None]:
    """host -> reported VRRP state (``active``, ``standby`` or None) of the router's agents."""
    return {
        str(h): s
        for h, s in raw.rows(
            conn,
            "SELECT host, ha_state FROM router_l3_bindings WHERE router_id = ? ORDER BY host",
            (router_id,),
        )
    }


def set_ha_state(conn: Connection, router_id: str, host: str, state: str) -> bool:
    """Record ``host``'s report; False when the host does not host the router."""
    found = raw.one(
        conn,
        "UPDATE router_l3_bindings SET ha_state = ? WHERE router_id = ? AND host = ? "
        "RETURNING host",
        (state, router_id, host),
    )
    return found is not None


def router_ha(conn: Connection, router_id: str) -> tuple[bool, int | None, str] | None:
    """(ha, ha_vr_id, project_id) of a router, None if there is none."""
    row = raw.one(conn, "SELECT ha, ha_vr_id, project_id FROM routers WHERE id = ?", (router_id,))
    return None if row is None else (bool(row[0]), row[1], str(row[2]))


def ha_router_ids(conn: Connection) -> set[str]:
    return set(raw.column(conn, "SELECT id FROM routers WHERE ha"))


def used_vr_ids(conn: Connection, project_id: str) -> set[int]:
    return set(
        raw.column(
            conn,
            "SELECT ha_vr_id FROM routers WHERE project_id = ? AND ha_vr_id IS NOT NULL",
            (project_id,),
        )
    )


def ha_ports(conn: Connection, router_id: str) -> list[tuple[str, str]]:
    """(port_id, binding_host_id) of the router's HA ports, by id."""
    return [
        (r[0], r[1])
        for r in raw.rows(
            conn,
            "SELECT p.id, p.binding_host_id FROM router_ports rp JOIN ports p "
            "ON p.id = rp.port_id WHERE rp.router_id = ? AND rp.port_type = ? ORDER BY p.id",
            (router_id, HA_INTERFACE),
        )
    ]


def router_ports(conn: Connection, router_id: str) -> list[tuple[Any, ...]]:
    """(port_id, network_id, binding_host_id, project_id, revision_number) of the router's
    ports (interfaces and gateway, not HA ports), by id."""
    return raw.rows(
        conn,
        "SELECT p.id, p.network_id, p.binding_host_id, p.project_id, "
        "p.revision_number FROM router_ports rp JOIN ports p "
        "ON p.id = rp.port_id WHERE rp.router_id = ? AND rp.port_type <> ? ORDER BY p.id",
        (router_id, HA_INTERFACE),
    )


def routers_with_ports(conn: Connection) -> list[tuple[str, list[str]]]:
    """(router_id, its scheduled hosts) of every router with at least one port (HA ports
    aside)."""
    out: dict[str, list[str]] = {}
    for rid, host in raw.rows(
        conn,
        "SELECT DISTINCT rp.router_id, b.host FROM router_ports rp "
        "LEFT JOIN router_l3_bindings b ON b.router_id = rp.router_id "
        "WHERE rp.port_type <> ? ORDER BY rp.router_id, b.host",
        (HA_INTERFACE,),
    ):
        hosts = out.setdefault(rid, [])
        if host is not None:
            hosts.append(host)
    return list(out.items())


def l3_load(conn: Connection, hosts: Sequence[str]) -> dict[str, int]:
    """host -> how many routers it hosts (the scheduler's load measure)."""
    rows = raw.rows_in(
        conn,
        "SELECT host, COUNT(*) FROM router_l3_bindings WHERE host IN ({ids}) GROUP BY host",
        hosts,
    )
    return {h: int(n) for h, n in rows}


# --- host state ------------------------------------------------------------------------------


def hosted_routers(conn: Connection, host: str) -> list[tuple[Any, ...]]:
    """(id, admin_state_up, enable_snat, gw_port_id, ha, ha_vr_id) of the routers scheduled
    to ``host``."""
    return raw.rows(
        conn,
        "SELECT r.id, r.admin_state_up, r.enable_snat, r.gw_port_id, r.ha, r.ha_vr_id "
        "FROM router_l3_bindings b JOIN routers r ON r.id = b.router_id "
        "WHERE b.host = ? ORDER BY r.id",
        (host,),
    )


def hosted_ports(conn: Connection, router_ids: Sequence[str], host: str) -> list[tuple[Any, ...]]:
    """(router_id, port_id, port_type, network_id, mac_address) of the routers' ports bound
    on ``host`` with a successful binding; of an HA router, every interface and gateway port
    (bound to whichever host was last master: every host of the router builds them) and its
    own HA port."""
    return raw.rows_in(
        conn,
        "SELECT rp.router_id, p.id, rp.port_type, p.network_id, "
        "p.mac_address FROM router_ports rp JOIN ports p ON p.id = rp.port_id "
        "JOIN routers r ON r.id = rp.router_id "
        "WHERE rp.router_id IN ({ids}) AND p.binding_vif_type = 'bridge' "
        "AND (p.binding_host_id = ? OR (r.ha AND rp.port_type <> ?)) "
        "ORDER BY rp.router_id, p.id",
        router_ids,
        (*router_ids, host, HA_INTERFACE),
    )


def ha_port_hosts(conn: Connection, router_ids: Sequence[str]) -> list[tuple[str, str, str]]:
    """(router_id, port_id, binding_host_id) of the routers' HA ports (every host's)."""
    return [
        (r[0], r[1], r[2])
        for r in raw.rows_in(
            conn,
            "SELECT rp.router_id, p.id, p.binding_host_id FROM router_ports rp "
            "JOIN ports p ON p.id = rp.port_id WHERE rp.port_type = ? "
            "AND rp.router_id IN ({ids}) ORDER BY rp.router_id, p.id",
            router_ids,
            (HA_INTERFACE, *router_ids),
        )
    ]


def subnet_rows(conn: Connection, subnet_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """subnet id -> (cidr, gateway_ip)."""
    rows = raw.rows_in(
        conn, "SELECT id, cidr, gateway_ip FROM subnets WHERE id IN ({ids})", subnet_ids
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def extra_routes(conn: Connection, router_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    return raw.grouped(
        conn,
        "SELECT router_id, destination, nexthop FROM router_routes "
        "WHERE router_id IN ({ids}) ORDER BY router_id, destination, nexthop",
        router_ids,
    )


def floating_ips(
    conn: Connection, router_ids: Sequence[str]
) -> dict[str, list[tuple[str, str, str, str]]]:
    """router id -> [(fip id, floating address, fixed address, fixed port id)] of its
    associated floating IPs."""
    return raw.grouped(
        conn,
        "SELECT router_id, id, floating_ip_address, fixed_ip_address, fixed_port_id "
        "FROM floating_ips WHERE router_id IN ({ids}) "
        "AND fixed_ip_address IS NOT NULL AND fixed_port_id IS NOT NULL "
        "ORDER BY router_id, floating_ip_address",
        router_ids,
    )
