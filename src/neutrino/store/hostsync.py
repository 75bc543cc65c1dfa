"""Queries behind host state, port binding and agent status reports.

Host-state reads run on every agent wake-up, so they are plain SQL (``raw``) with one query
per table for the whole host (no N+1): the host's bound ports, their networks, subnets and
their DNS/routes, fixed IPs, and the remote ports sharing those networks. Agent rows go
through Core (their timestamps need SQLAlchemy's type processing; they are few).

A port is "on" a host when ``binding_host_id`` names it and its binding succeeded
(``binding_vif_type = 'bridge'``): a failed binding never reaches an agent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from neutrino.domain.hoststate import VIF_BRIDGE
from neutrino.store import locks, raw

L2_AGENT = "L2 agent"
HA_INTERFACE = "network:router_ha_interface"


def l2_agent(conn: Connection, host: str) -> tuple[str, dt.datetime, bool] | None:
    """(configurations JSON, heartbeat_timestamp, admin_state_up) of the host's L2 agent."""
    row = raw.one(  # raw: every bound port create asks it (``store.raw``)
        conn,
        "SELECT configurations, heartbeat_timestamp, admin_state_up FROM agents "
        "WHERE host = ? AND agent_type = ?",
        (host, L2_AGENT),
    )
    return None if row is None else (row[0], raw.stored_time(row[1]), bool(row[2]))


def l2_configurations(conn: Connection, hosts: Iterable[str]) -> dict[str, str]:
    """host -> configurations JSON of its L2 agent."""
    wanted = sorted(set(hosts))
    rows = raw.rows_in(
        conn,
        "SELECT host, configurations FROM agents WHERE agent_type = ? AND host IN ({ids})",
        wanted,
        (L2_AGENT, *wanted),
    )
    return {h: cfg for h, cfg in rows}


def network_segment(conn: Connection, network_id: str) -> tuple[str | None, str | None] | None:
    """(network_type, physical_network) of a network, None if it does not exist."""
    row = raw.one(
        conn, "SELECT network_type, physical_network FROM networks WHERE id = ?", (network_id,)
    )
    return None if row is None else (row[0], row[1])


def has_port_on(conn: Connection, host: str, network_id: str) -> bool:
    """Whether a port of ``network_id`` is bound to ``host`` (stops at the first)."""
    return (
        raw.one(
            conn,
            "SELECT 1 FROM ports WHERE binding_host_id = ? AND binding_vif_type = ? "
            "AND network_id = ? LIMIT 1",
            (host, VIF_BRIDGE, network_id),
        )
        is not None
    )


def ports_by_id(conn: Connection, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """``bound_ports``' columns, then binding_host_id and binding_vif_type, of the ports
    ``ids`` that exist (whatever their binding), ordered by id."""
    return raw.rows_in(
        conn,
        "SELECT id, network_id, mac_address, admin_state_up, device_owner, "
        "port_security_enabled, system_owned, binding_host_id, binding_vif_type FROM ports "
        "WHERE id IN ({ids}) ORDER BY id",
        ids,
    )


def bound_ports(conn: Connection, host: str) -> list[tuple[Any, ...]]:
    """(id, network_id, mac_address, admin_state_up, device_owner, port_security_enabled,
    system_owned) of the host's ports: those bound to it, and the interface and gateway ports
    of the HA routers it hosts (bound to the router's last master; every host of the router
    wires them, and only the VRRP master gives them addresses)."""
    return raw.rows(
        conn,
        "SELECT id, network_id, mac_address, admin_state_up, device_owner, "
        "port_security_enabled, system_owned FROM ports "
        "WHERE binding_vif_type = ? AND (binding_host_id = ? OR id IN ("
        "SELECT rp.port_id FROM router_l3_bindings b "
        "JOIN routers r ON r.id = b.router_id AND r.ha "
        "JOIN router_ports rp ON rp.router_id = b.router_id AND rp.port_type <> ? "
        "WHERE b.host = ?)) ORDER BY id",
        (VIF_BRIDGE, host, HA_INTERFACE, host),
    )


def bandwidth_limits(conn: Connection, port_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(port id, direction, max_kbps, max_burst_kbps) of these ports' effective QoS policy:
    the port's own, else its network's unless the network owns the port."""
    return raw.rows_in(
        conn,
        "SELECT p.id, r.direction, r.max_kbps, r.max_burst_kbps FROM ports p "
        "JOIN networks n ON n.id = p.network_id "
        "JOIN qos_bandwidth_limit_rules r ON r.qos_policy_id = COALESCE(p.qos_policy_id, "
        "CASE WHEN p.device_owner LIKE ? THEN NULL ELSE n.qos_policy_id END) "
        "WHERE p.id IN ({ids}) ORDER BY p.id, r.direction",
        port_ids,
        ("network:%", *port_ids),  # a parameter: psycopg reads a literal % as a placeholder
    )


def networks(conn: Connection, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(id, network_type, segmentation_id, physical_network, mtu) ordered by id."""
    return raw.rows_in(
        conn,
        "SELECT id, network_type, segmentation_id, physical_network, mtu "
        "FROM networks WHERE id IN ({ids}) ORDER BY id",
        ids,
    )


def subnets(conn: Connection, network_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(id, network_id, cidr, ip_version, gateway_ip, enable_dhcp, ra_mode, address_mode)."""
    return raw.rows_in(
        conn,
        "SELECT id, network_id, cidr, ip_version, gateway_ip, enable_dhcp, "
        "ipv6_ra_mode, ipv6_address_mode FROM subnets WHERE network_id IN ({ids}) ORDER BY id",
        network_ids,
    )


def dns_and_routes(
    conn: Connection, subnet_ids: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
    dns = raw.grouped(
        conn,
        "SELECT subnet_id, address FROM subnet_dns_nameservers "
        "WHERE subnet_id IN ({ids}) ORDER BY subnet_id, position",
        subnet_ids,
    )
    routes = raw.grouped(
        conn,
        "SELECT subnet_id, destination, nexthop FROM subnet_host_routes "
        "WHERE subnet_id IN ({ids}) ORDER BY subnet_id, destination, nexthop",
        subnet_ids,
    )
    return dns, routes


def fixed_ips(conn: Connection, port_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """port id -> [(subnet_id, ip_address)] in allocation order."""
    return raw.grouped(
        conn,
        "SELECT port_id, subnet_id, ip_address FROM ip_allocations "
        "WHERE port_id IN ({ids}) ORDER BY port_id, position, ip_address",
        port_ids,
    )


def subport_tags(conn: Connection, port_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """sub-port id -> (its trunk's parent port, its VLAN tag), for the trunk sub-ports among
    ``port_ids``."""
    rows = raw.rows_in(
        conn,
        "SELECT s.port_id, t.port_id, s.segmentation_id FROM trunk_subports s "
        "JOIN trunks t ON t.id = s.trunk_id WHERE s.port_id IN ({ids})",
        port_ids,
    )
    return {sub: (parent, int(tag)) for sub, parent, tag in rows}


def remote_ports(
    conn: Connection,
    network_ids: Sequence[str],
    host: str,
    port_ids: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """(id, network_id, mac_address, binding_host_id, device_owner, device_id) of ports bound
    on other hosts (of ``port_ids`` only, when given)."""
    if not network_ids or port_ids == []:
        return []
    only = "" if port_ids is None else f"AND id IN ({raw.marks(port_ids)}) "
    return raw.rows(
        conn,
        f"SELECT id, network_id, mac_address, binding_host_id, device_owner, device_id "
        f"FROM ports "
        f"WHERE network_id IN ({raw.marks(network_ids)}) AND binding_vif_type = ? "
        f"AND binding_host_id <> ? {only}ORDER BY id",
        (*network_ids, VIF_BRIDGE, host, *(port_ids or ())),
    )


def port_binding(conn: Connection, port_id: str) -> tuple[Any, ...] | None:
    """(project_id, network_id, binding_host_id, status, revision_number, binding_vif_type)."""
    return raw.one(
        conn,
        "SELECT project_id, network_id, binding_host_id, status, "
        "revision_number, binding_vif_type FROM ports WHERE id = ?",
        (port_id,),
    )


def hosts_ha_router_of(conn: Connection, port_id: str, host: str) -> bool:
    """Whether ``host`` hosts the HA router the port belongs to (as interface or gateway)."""
    return (
        raw.one(
            conn,
            "SELECT 1 FROM router_ports rp JOIN routers r ON r.id = rp.router_id AND r.ha "
            "JOIN router_l3_bindings b ON b.router_id = rp.router_id "
            "WHERE rp.port_id = ? AND rp.port_type <> ? AND b.host = ?",
            (port_id, HA_INTERFACE, host),
        )
        is not None
    )


def unbound_ports_on(conn: Connection, host: str) -> list[tuple[Any, ...]]:
    """(id, network_id, project_id, revision_number) of the host's ports whose binding failed,
    row-locked in id order on PostgreSQL: the revision bumped from here builds on any
    concurrent update's, and a port rebound meanwhile is skipped."""
    lock = " FOR NO KEY UPDATE" if locks.enabled(conn) else ""
    return raw.rows(
        conn,
        "SELECT id, network_id, project_id, revision_number FROM ports "
        "WHERE binding_host_id = ? AND binding_vif_type = 'binding_failed' "
        f"ORDER BY id{lock}",
        (host,),
    )


def network_ports(conn: Connection, network_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(id, network_id, mac_address, device_owner, dns_name) of every port on the networks
    (DHCP entries: a DHCP server answers for ports whatever their binding)."""
    return raw.rows_in(
        conn,
        "SELECT id, network_id, mac_address, device_owner, dns_name FROM ports "
        "WHERE network_id IN ({ids}) ORDER BY id",
        network_ids,
    )


def dhcp_opts(conn: Connection, port_ids: Sequence[str]) -> dict[str, list[tuple[str, str, int]]]:
    """port id -> [(opt_name, opt_value, ip_version)] ordered by name."""
    return raw.grouped(
        conn,
        "SELECT port_id, opt_name, opt_value, ip_version FROM port_extra_dhcp_opts "
        "WHERE port_id IN ({ids}) ORDER BY port_id, opt_name, ip_version",
        port_ids,
    )


# --- security groups (host state's security part; see domain/sgstate.py) ---------------------


def port_groups(conn: Connection, port_ids: Sequence[str]) -> dict[str, list[str]]:
    """port id -> its security group ids, sorted."""
    return raw.grouped(
        conn,
        "SELECT port_id, security_group_id FROM port_security_groups "
        "WHERE port_id IN ({ids}) ORDER BY port_id, security_group_id",
        port_ids,
    )


def address_pairs(
    conn: Connection, port_ids: Sequence[str]
) -> dict[str, list[tuple[str, str | None]]]:
    """port id -> [(ip_address, mac_address)] of its allowed address pairs, sorted."""
    return raw.grouped(
        conn,
        "SELECT port_id, ip_address, mac_address FROM port_allowed_address_pairs "
        "WHERE port_id IN ({ids}) ORDER BY port_id, ip_address, mac_address",
        port_ids,
    )


def router_floating_ips(
    conn: Connection, router_ids: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    """(router id, floating network id) -> the floating addresses the router holds there
    (associated, or carrying port forwardings), sorted."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid, net, address in raw.rows_in(
        conn,
        "SELECT router_id, floating_network_id, floating_ip_address FROM floating_ips "
        "WHERE router_id IN ({ids}) ORDER BY floating_ip_address",
        router_ids,
    ):
        out[(rid, net)].append(address)
    return out


def security_groups(conn: Connection, group_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(id, stateful) of the groups, ordered by id."""
    return raw.rows_in(
        conn, "SELECT id, stateful FROM security_groups WHERE id IN ({ids}) ORDER BY id", group_ids
    )


def security_group_rules(conn: Connection, group_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(security_group_id, id, direction, ethertype, protocol, port_range_min, port_range_max,
    normalized_cidr, remote_group_id, remote_address_group_id) of the groups' rules, ordered by
    group and rule id."""
    return raw.rows_in(
        conn,
        "SELECT security_group_id, id, direction, ethertype, protocol, port_range_min, "
        "port_range_max, COALESCE(normalized_cidr, remote_ip_prefix), remote_group_id, "
        "remote_address_group_id FROM security_group_rules "
        "WHERE security_group_id IN ({ids}) ORDER BY security_group_id, id",
        group_ids,
    )


def group_member_addresses(conn: Connection, group_ids: Sequence[str]) -> dict[str, set[str]]:
    """group id -> the fixed IPs and allowed-address-pair IPs of every port in it (any host,
    bound or not): two queries, one per address table."""
    out: dict[str, set[str]] = defaultdict(set)
    for table in ("ip_allocations", "port_allowed_address_pairs"):
        for gid, addr in raw.rows_in(
            conn,
            f"SELECT g.security_group_id, a.ip_address FROM port_security_groups g "
            f"JOIN {table} a ON a.port_id = g.port_id WHERE g.security_group_id IN ({{ids}})",
            group_ids,
        ):
            out[gid].add(addr)
    return out
