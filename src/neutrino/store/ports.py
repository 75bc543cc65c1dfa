"""Port rows and their children (fixed IPs, security-group bindings, address pairs, extra
DHCP options), with list queries built to render 10,000 ports in one pass: one SELECT for the
ports and one per child table, joined in memory by port id (no N+1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    insert,
    select,
)

from neutrino.common.errors import BadRequest, InvalidInput, ResourceNotFound, excerpt
from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import (
    AllowedAddressPair,
    ExtraDhcpOpt,
    IpAllocation,
    Network,
    Port,
    PortSecurityGroup,
)
from neutrino.store.query import (
    Column,
    check_keys,
    compile_list,
    standard_columns,
)
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

ports = Port.__table__
ips = IpAllocation.__table__
port_sgs = PortSecurityGroup.__table__
pairs = AllowedAddressPair.__table__
dhcp_opts = ExtraDhcpOpt.__table__
networks = Network.__table__
IN_LIMIT = 500  # above this many ids, read the whole child table instead of a huge IN list

c = ports.c
COLUMNS: dict[str, Column] = {
    **standard_columns(ports),
    "network_id": Column(c.network_id),
    "mac_address": Column(c.mac_address, str.lower),
    "admin_state_up": Column(c.admin_state_up, to_bool),
    "status": Column(c.status),
    "device_id": Column(c.device_id),
    "device_owner": Column(c.device_owner),
    "port_security_enabled": Column(c.port_security_enabled, to_bool),
    "binding:host_id": Column(c.binding_host_id),
    "binding:vnic_type": Column(c.binding_vnic_type),
    "binding:vif_type": Column(c.binding_vif_type),
    "dns_name": Column(c.dns_name),
    "ip_allocation": Column(c.ip_allocation),
}


def _fixed_ips_filter(values: list[str]) -> ColumnElement[bool]:
    """``fixed_ips=ip_address=X&fixed_ips=subnet_id=Y``: one allocation matching all given keys
    (values of one key OR'ed), as Neutron does; ``ip_address_substr`` matches substrings."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip():  # Neutron's key=value converter refuses the rest
            raise InvalidInput(f"'{excerpt(v)}' is not of the form <key>=[value]")
        wanted[key].append(val)
    conds = [ips.c.port_id == c.id]
    for key, vals in wanted.items():
        if key == "ip_address":
            conds.append(ips.c.ip_address.in_(vals))
        elif key == "subnet_id":
            conds.append(ips.c.subnet_id.in_(vals))
        elif key == "ip_address_substr":
            conds.extend(ips.c.ip_address.contains(v, autoescape=True) for v in vals)
        else:
            raise BadRequest(f"[fixed_ips.{key}] is invalid attribute for filtering")
    return exists().where(and_(*conds))


def _security_groups_filter(values: list[str]) -> ColumnElement[bool]:
    return exists().where(
        and_(port_sgs.c.port_id == c.id, port_sgs.c.security_group_id.in_(values))
    )


HOOKS: dict[str, Any] = {
    **tag_filters(ports),
    **changed_since_filter(ports),
    "fixed_ips": _fixed_ips_filter,
    "security_groups": _security_groups_filter,
}


# Column order of port tuples returned by ``list_rows``/``rows_by_ids`` (see ``F``).
PORT_COLUMNS = (
    "id",
    "project_id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "binding_host_id",
    "binding_vnic_type",
    "binding_vif_type",
    "binding_vif_details",
    "binding_profile",
    "dns_name",
    "qos_policy_id",
    "dns_domain",
    "numa_affinity_policy",
    "device_profile",
    "ip_allocation",
)
# what a column holds when an insert's values leave it out
OPTIONAL: dict[str, Any] = {
    "qos_policy_id": None,
    "dns_domain": "",
    "numa_affinity_policy": None,
    "device_profile": None,
    "ip_allocation": "immediate",
}
F = {name: i for i, name in enumerate(PORT_COLUMNS)}
_SELECT_PORTS = f"SELECT {', '.join(PORT_COLUMNS)} FROM ports"


def find(conn: Connection, port_id: str) -> dict[str, Any] | None:
    found = raw.one(conn, f"{_SELECT_PORTS} WHERE id = ?", (port_id,))
    return None if found is None else dict(zip(PORT_COLUMNS, found, strict=True))


def get(conn: Connection, port_id: str) -> dict[str, Any]:
    row = find(conn, port_id)
    if row is None:
        raise ResourceNotFound("Port", port_id)
    return row


def visible_clause(project_id: str) -> ColumnElement[bool]:
    """A project sees its own ports and the ports on networks it owns (Neutron's
    admin_owner_or_network_owner rule)."""
    owned_nets = select(networks.c.id).where(networks.c.project_id == project_id)
    if not project_id:  # unscoped: "" would match project-less rows
        return false()
    return (c.project_id == project_id) | c.network_id.in_(owned_nets)


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[tuple[Any, ...]]:
    check_keys(query, COLUMNS, HOOKS)
    stmt = select(*[ports.c[name] for name in PORT_COLUMNS])
    if visible_to is not None:
        stmt = stmt.where(visible_clause(visible_to))
    stmt = compile_list(conn, stmt, ports, query, COLUMNS, HOOKS, kind="Port")
    return raw.select_rows(conn, stmt)


def rows_by_ids(conn: Connection, ids: list[str]) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" * len(ids))
    return raw.rows(conn, f"{_SELECT_PORTS} WHERE id IN ({marks})", ids)


def placement_keys(conn: Connection, ids: list[str]) -> list[tuple[Any, ...]]:
    """(id, network_id, qos_policy_id, binding_vnic_type) of these ports, in chunks of
    ``IN_LIMIT`` (``service.port_resources``)."""
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), IN_LIMIT):
        chunk = ids[start : start + IN_LIMIT]
        sql = (
            "SELECT id, network_id, qos_policy_id, binding_vnic_type FROM ports "
            f"WHERE id IN ({', '.join('?' * len(chunk))})"
        )
        out += raw.rows(conn, sql, chunk)
    return out


def _children(conn: Connection, sql: str, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Child rows grouped by port id; ``sql`` selects port_id first and has one ``{where}``."""
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    if not ids:
        return out
    if len(ids) <= IN_LIMIT:
        found = raw.rows(
            conn, sql.format(where=f"WHERE port_id IN ({', '.join('?' * len(ids))})"), ids
        )
        for row in found:
            out[row[0]].append(row[1:])
        return out
    wanted = set(ids)
    for row in raw.rows(conn, sql.format(where="")):
        if row[0] in wanted:
            out[row[0]].append(row[1:])
    return out


def fixed_ips_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(
        conn,
        "SELECT port_id, subnet_id, ip_address FROM ip_allocations {where} "
        "ORDER BY port_id, position",
        ids,
    )


def security_groups_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(
        conn,
        "SELECT port_id, security_group_id FROM port_security_groups "
        "{where} ORDER BY port_id, security_group_id",
        ids,
    )


def address_pairs_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(
        conn,
        "SELECT port_id, ip_address, mac_address FROM "
        "port_allowed_address_pairs {where} "
        "ORDER BY port_id, ip_address, mac_address",
        ids,
    )


def dhcp_opts_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(
        conn,
        "SELECT port_id, opt_name, opt_value, ip_version FROM "
        "port_extra_dhcp_opts {where} ORDER BY port_id, opt_name",
        ids,
    )


def mac_in_use(conn: Connection, network_id: str, mac: str) -> bool:
    return (
        raw.one(
            conn, "SELECT 1 FROM ports WHERE network_id = ? AND mac_address = ?", (network_id, mac)
        )
        is not None
    )


_INSERT_PORT = (
    f"INSERT INTO ports ({', '.join(PORT_COLUMNS)}, system_owned) "
    f"VALUES ({', '.join('?' * len(PORT_COLUMNS))}, ?)"
)


def insert_row(conn: Connection, values: dict[str, Any], *, system_owned: bool = False) -> None:
    """Insert a port; ``values`` has every column of ``PORT_COLUMNS`` (timestamps as
    datetimes). ``system_owned`` only for the ports the controller makes itself (DHCP,
    router, floating IP): the agent leaves those unfiltered."""
    params = [
        values.get(name, OPTIONAL[name]) if name in OPTIONAL else values[name]
        for name in PORT_COLUMNS
    ]
    params[F["created_at"]] = raw.db_time(conn, values["created_at"])
    params[F["updated_at"]] = raw.db_time(conn, values["updated_at"])
    raw.run(conn, _INSERT_PORT, [*params, system_owned])


def insert_children(
    conn: Connection,
    port_id: str,
    groups: Iterable[str],
    pairs_: list[dict[str, str]],
    opts: list[dict[str, Any]],
) -> None:
    """Children of a new port (nothing to replace yet, so no DELETEs)."""
    raw.run_many(
        conn,
        "INSERT INTO port_security_groups (port_id, security_group_id) VALUES (?, ?)",
        [(port_id, g) for g in dict.fromkeys(groups)],
    )
    raw.run_many(
        conn,
        "INSERT INTO port_allowed_address_pairs (port_id, ip_address, "
        "mac_address) VALUES (?, ?, ?)",
        [(port_id, p["ip_address"], p["mac_address"]) for p in pairs_],
    )
    raw.run_many(
        conn,
        "INSERT INTO port_extra_dhcp_opts (port_id, opt_name, opt_value, "
        "ip_version) VALUES (?, ?, ?, ?)",
        [(port_id, o["opt_name"], o["opt_value"], o["ip_version"]) for o in opts],
    )


def replace_security_groups(conn: Connection, port_id: str, groups: Iterable[str]) -> None:
    conn.execute(delete(port_sgs).where(port_sgs.c.port_id == port_id))
    rows = [{"port_id": port_id, "security_group_id": g} for g in dict.fromkeys(groups)]
    if rows:
        conn.execute(insert(port_sgs), rows)


def replace_address_pairs(conn: Connection, port_id: str, items: list[dict[str, str]]) -> None:
    conn.execute(delete(pairs).where(pairs.c.port_id == port_id))
    if items:
        conn.execute(insert(pairs), [{"port_id": port_id, **i} for i in items])


def replace_dhcp_opts(conn: Connection, port_id: str, items: list[dict[str, Any]]) -> None:
    conn.execute(delete(dhcp_opts).where(dhcp_opts.c.port_id == port_id))
    if items:
        conn.execute(insert(dhcp_opts), [{"port_id": port_id, **i} for i in items])


def delete_row(conn: Connection, port_id: str) -> None:
    """Delete a port; its fixed IPs, group bindings, pairs and options go with it (ON DELETE
    CASCADE, enforced on SQLite by ``PRAGMA foreign_keys``)."""
    raw.run(conn, "DELETE FROM ports WHERE id = ?", (port_id,))


def delete_on_network(conn: Connection, network_id: str) -> list[str]:
    ids = list(conn.execute(select(c.id).where(c.network_id == network_id)).scalars())
    for port_id in ids:
        delete_row(conn, port_id)
    return ids


def bound(conn: Connection) -> list[tuple[str, str, str, str, str]]:
    """``(host, device_owner, network_id, device_id, status)`` of every port bound to a host:
    what each host serves, without rendering whole ports."""
    rows = conn.execute(
        select(c.binding_host_id, c.device_owner, c.network_id, c.device_id, c.status).where(
            c.binding_host_id != ""
        )
    )
    return [tuple(r) for r in rows]
