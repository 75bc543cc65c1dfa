"""Port lists rendered to JSON by SQLite itself.

oVirt lists every port on every vNIC allocation, so ``GET /v2.0/ports`` at 10,000 ports is the
hottest read we serve. Building 10,000 Python dicts and encoding them costs ~0.4 s of CPU;
SQLite's JSON functions (C, one correlated lookup per child table) produce the same document
several times faster. This module holds that one SELECT: the wire shape of a port, key for key
in the order ``service.ports`` renders it (``tests/store/test_port_json.py`` pins the two
against each other), for the admin view and the member view (no ``binding:*`` but vnic_type).

SQLite only (PostgreSQL has its own JSON functions; there the Python renderer serves). Used
only when the caller asked for whole ports (no ``fields=``).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, select

from neutrino.domain.dns import DnsConfig
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.ports import COLUMNS, HOOKS, c, ports, visible_clause
from neutrino.store.query import check_keys, compile_list


def _bool(column: str) -> str:
    return f"CASE WHEN ports.{column} THEN json('true') ELSE json('false') END"


def _stamp(column: str) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; the wire wants 'YYYY-MM-DDTHH:MM:SSZ'.
    return f"substr(ports.{column}, 1, 10) || 'T' || substr(ports.{column}, 12, 8) || 'Z'"


def _children(select_list: str, table: str, order: str) -> str:
    return (
        f"(SELECT json_group_array({select_list}) FROM (SELECT * FROM {table} "
        f"WHERE port_id = ports.id ORDER BY {order}))"
    )


_COMMON = ", ".join(
    [
        "'id', ports.id",
        "'name', ports.name",
        "'network_id', ports.network_id",
        "'tenant_id', ports.project_id",
        "'mac_address', ports.mac_address",
        f"'admin_state_up', {_bool('admin_state_up')}",
        "'status', ports.status",
        "'device_id', ports.device_id",
        "'device_owner', ports.device_owner",
        "'fixed_ips', json("
        + _children(
            "json_object('subnet_id', subnet_id, 'ip_address', ip_address)",
            "ip_allocations",
            "position",
        )
        + ")",
        "'allowed_address_pairs', json("
        + _children(
            "json_object('ip_address', ip_address, 'mac_address', mac_address)",
            "port_allowed_address_pairs",
            "ip_address, mac_address",
        )
        + ")",
        "'extra_dhcp_opts', json("
        + _children(
            "json_object('opt_name', opt_name, 'opt_value', opt_value, 'ip_version', ip_version)",
            "port_extra_dhcp_opts",
            "opt_name",
        )
        + ")",
        "'security_groups', json("
        + _children("security_group_id", "port_security_groups", "security_group_id")
        + ")",
        "'description', ports.description",
        "'binding:vnic_type', ports.binding_vnic_type",
        f"'port_security_enabled', {_bool('port_security_enabled')}",
        "'qos_policy_id', ports.qos_policy_id",
        "'dns_name', ports.dns_name",
        "'dns_domain', ports.dns_domain",
        "'dns_assignment', json({dns_assignment})",
        "'ip_allocation', ports.ip_allocation",
        "'numa_affinity_policy', ports.numa_affinity_policy",
        "'device_profile', ports.device_profile",
        "'tags', json((SELECT json_group_array(tag) FROM (SELECT tag FROM tags "
        "WHERE resource_id = ports.id ORDER BY tag)))",
        f"'created_at', {_stamp('created_at')}",
        f"'updated_at', {_stamp('updated_at')}",
        "'revision_number', ports.revision_number",
        "'project_id', ports.project_id",
    ]
)
_ADMIN_ONLY = ", ".join(
    [
        "'binding:profile', json(ports.binding_profile)",
        "'binding:host_id', ports.binding_host_id",
        "'binding:vif_type', ports.binding_vif_type",
        "'binding:vif_details', json(ports.binding_vif_details)",
    ]
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _dns_assignment(dns: DnsConfig) -> str:
    """``DnsConfig.assignment`` in SQL: per fixed IP, the port's name (when names are in
    use and it has one) or ``host-<address>``, and its FQDN."""
    label = "'host-' || replace(replace(ip_address, '.', '-'), ':', '-')"
    suffix = f"'.' || {_literal(dns.domain)}" if dns.domain else "''"
    hostname, fqdn = label, f"{label} || {suffix}"
    if dns.names_enabled:
        named = "ports.dns_name != ''"
        hostname = f"CASE WHEN {named} THEN ports.dns_name ELSE {label} END"
        fqdn = (
            f"CASE WHEN {named} THEN (CASE WHEN substr(ports.dns_name, -1) = '.' "
            f"THEN ports.dns_name ELSE ports.dns_name || {suffix} END) ELSE {label} || {suffix} END"
        )
    return _children(
        f"json_object('hostname', {hostname}, 'ip_address', ip_address, 'fqdn', {fqdn})",
        "ip_allocations",
        "position",
    )


@functools.cache
def view(admin: bool, dns: DnsConfig) -> str:
    """The SELECT expression of one port's JSON (admin or member view)."""
    common = _COMMON.replace("{dns_assignment}", _dns_assignment(dns))
    return f"json_object({common}, {_ADMIN_ONLY})" if admin else f"json_object({common})"


def supported(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def list_ids(conn: Connection, query: ListQuery, visible_to: str | None) -> list[str]:
    """Ids of the ports a list request selects, in list order (filters, sort, keyset page)."""
    check_keys(query, COLUMNS, HOOKS)
    stmt: Any = select(c.id)
    if visible_to is not None:
        stmt = stmt.where(visible_clause(visible_to))
    stmt = compile_list(conn, stmt, ports, query, COLUMNS, HOOKS, kind="Port")
    return [r[0] for r in raw.select_rows(conn, stmt)]


def render_ids(
    conn: Connection, ids: list[str], admin: bool, dns: DnsConfig = DnsConfig()
) -> dict[str, str]:
    """Port JSON for these ids (SQLite only), in chunks that keep the IN list short."""
    expression = view(admin, dns)
    out: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for rid, text in raw.rows(
            conn, f"SELECT ports.id, {expression} FROM ports WHERE ports.id IN ({marks})", chunk
        ):
            out[rid] = text
    return out
