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
    RowMapping,
    Table,
    and_,
    delete,
    exists,
    insert,
    select,
    update,
)

from neutrino.common.errors import BadRequest, ResourceNotFound
from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store.models import (
    AllowedAddressPair,
    ExtraDhcpOpt,
    IpAllocation,
    Network,
    Port,
    PortSecurityGroup,
)
from neutrino.store.query import Column, check_keys, compile_list
from neutrino.store.tags import tag_filters

ports = Port.__table__
ips = IpAllocation.__table__
port_sgs = PortSecurityGroup.__table__
pairs = AllowedAddressPair.__table__
dhcp_opts = ExtraDhcpOpt.__table__
networks = Network.__table__
IN_LIMIT = 500  # above this many ids, read the whole child table instead of a huge IN list

c = ports.c
COLUMNS: dict[str, Column] = {
    "id": Column(c.id),
    "name": Column(c.name),
    "description": Column(c.description),
    "project_id": Column(c.project_id),
    "tenant_id": Column(c.project_id),
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
    "revision_number": Column(c.revision_number, to_int),
    "created_at": Column(c.created_at),
    "updated_at": Column(c.updated_at),
}


def _fixed_ips_filter(values: list[str]) -> ColumnElement[bool]:
    """``fixed_ips=ip_address=X&fixed_ips=subnet_id=Y``: one allocation matching all given keys
    (values of one key OR'ed), as Neutron does; ``ip_address_substr`` matches substrings."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for v in values:
        key, _, val = v.partition("=")
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
    return exists().where(and_(port_sgs.c.port_id == c.id,
                               port_sgs.c.security_group_id.in_(values)))


HOOKS: dict[str, Any] = {
    **tag_filters(ports),
    "fixed_ips": _fixed_ips_filter,
    "security_groups": _security_groups_filter,
}


def find(conn: Connection, port_id: str) -> RowMapping | None:
    return conn.execute(select(ports).where(c.id == port_id)).mappings().first()


def get(conn: Connection, port_id: str) -> RowMapping:
    row = find(conn, port_id)
    if row is None:
        raise ResourceNotFound("Port", port_id)
    return row


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    check_keys(query, COLUMNS, HOOKS)
    stmt = select(ports)
    if visible_to is not None:
        # A project sees its own ports and the ports on networks it owns (Neutron's
        # admin_owner_or_network_owner rule).
        owned_nets = select(networks.c.id).where(networks.c.project_id == visible_to)
        stmt = stmt.where((c.project_id == visible_to) | c.network_id.in_(owned_nets))
    stmt = compile_list(conn, stmt, ports, query, COLUMNS, HOOKS, kind="Port")
    return list(conn.execute(stmt).mappings())


def _children(conn: Connection, table: Table, cols: list[Any], ids: list[str],
              order: list[Any]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    if not ids:
        return out
    stmt = select(table.c.port_id, *cols).order_by(*order)
    wanted: set[str] | None = None
    if len(ids) <= IN_LIMIT:
        stmt = stmt.where(table.c.port_id.in_(ids))
    else:
        wanted = set(ids)
    for row in conn.execute(stmt):
        if wanted is None or row[0] in wanted:
            out[row[0]].append(tuple(row[1:]))
    return out


def fixed_ips_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(conn, ips, [ips.c.subnet_id, ips.c.ip_address], ids,
                     [ips.c.port_id, ips.c.position])


def security_groups_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(conn, port_sgs, [port_sgs.c.security_group_id], ids,
                     [port_sgs.c.security_group_id])


def address_pairs_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(conn, pairs, [pairs.c.ip_address, pairs.c.mac_address], ids,
                     [pairs.c.port_id])


def dhcp_opts_of(conn: Connection, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(conn, dhcp_opts, [dhcp_opts.c.opt_name, dhcp_opts.c.opt_value,
                                       dhcp_opts.c.ip_version], ids, [dhcp_opts.c.opt_name])


def mac_in_use(conn: Connection, network_id: str, mac: str) -> bool:
    return conn.execute(select(c.id).where(c.network_id == network_id,
                                           c.mac_address == mac)).first() is not None


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(ports).values(**values))


def update_row(conn: Connection, port_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(ports).where(c.id == port_id).values(**values))


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
    for table in (ips, port_sgs, pairs, dhcp_opts):
        conn.execute(delete(table).where(table.c.port_id == port_id))
    conn.execute(delete(ports).where(c.id == port_id))


def delete_on_network(conn: Connection, network_id: str) -> list[str]:
    ids = list(conn.execute(select(c.id).where(c.network_id == network_id)).scalars())
    for port_id in ids:
        delete_row(conn, port_id)
    return ids
