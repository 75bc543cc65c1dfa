"""Subnet rows, their children (allocation pools, DNS servers, host routes) and the fixed-IP
allocations that IPAM reads and writes.

Lists render in one pass: one SELECT for the subnets (joined with their network for
visibility and ``router:external``) and one per child table for all listed subnets (no N+1).

Allocations: ``ip_allocations`` has primary key (subnet_id, ip_address), the IPAM race guard,
and a unique index on (subnet_id, ip_key) where ``ip_key`` is the address as fixed-width hex
(``neutrino.domain.ipam.key``), so ``used_keys`` reads the used addresses of one pool range in
numeric order straight from the index and stops after ``limit`` rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    delete,
    false,
    func,
    insert,
    or_,
    select,
)

from neutrino.common.errors import InvalidInput
from neutrino.domain.attributes import Invalid, to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import (
    AllocationPool,
    DnsNameserver,
    HostRoute,
    IpAllocation,
    Network,
    Port,
    Subnet,
)
from neutrino.store.query import (
    Column,
    FilterHook,
    listed,
    nullable_str,
    standard_columns,
)
from neutrino.store.rbac import granted_clause
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

subnets = Subnet.__table__
pools = AllocationPool.__table__
dns = DnsNameserver.__table__
routes = HostRoute.__table__
allocs = IpAllocation.__table__
networks = Network.__table__
ports = Port.__table__
IN_LIMIT = 500  # above this many ids, read the whole child table instead of a huge IN list


c = subnets.c
COLUMNS: dict[str, Column] = {
    **standard_columns(subnets),
    "network_id": Column(c.network_id),
    "ip_version": Column(c.ip_version, to_int),
    "cidr": Column(c.cidr),
    "gateway_ip": Column(c.gateway_ip, nullable_str),
    "enable_dhcp": Column(c.enable_dhcp, to_bool),
    "ipv6_ra_mode": Column(c.ipv6_ra_mode, nullable_str),
    "ipv6_address_mode": Column(c.ipv6_address_mode, nullable_str),
    "subnetpool_id": Column(c.subnetpool_id, nullable_str),
}


def _network_flag(column: Any) -> FilterHook:
    def hook(values: list[Any]) -> ColumnElement[bool]:
        try:
            wanted = [to_bool(v) for v in values]
        except Invalid as exc:  # Neutron converts the value: a malformed one is a 400
            raise InvalidInput(str(exc)) from None
        return column.in_(wanted)  # type: ignore[no-any-return]

    return hook


HOOKS: dict[str, Any] = {
    **tag_filters(subnets),
    **changed_since_filter(subnets),
    "shared": _network_flag(networks.c.shared),
    "router:external": _network_flag(networks.c.router_external),
}


def _joined() -> Select[Any]:
    return select(
        subnets,
        networks.c.router_external,
        networks.c.shared.label("network_shared"),
        networks.c.project_id.label("network_project_id"),
    ).join(networks, networks.c.id == c.network_id)


def visible_clause(project_id: str) -> ColumnElement[bool]:
    """Own subnets, subnets on own networks, and subnets of networks an RBAC policy grants
    to the project (by name or to all: see ``store.rbac``)."""
    if not project_id:  # unscoped: "" would match project-less rows
        return false()
    return or_(
        c.project_id == project_id,
        networks.c.project_id == project_id,
        networks.c.shared.is_(True),
        granted_clause(c.network_id, project_id),
    )


def find(conn: Connection, subnet_id: str) -> RowMapping | None:
    """The subnet with its network's ``router_external``, ``network_shared`` and
    ``network_project_id``."""
    return conn.execute(_joined().where(c.id == subnet_id)).mappings().first()


def network_of(conn: Connection, subnet_id: str) -> str | None:
    found = raw.one(conn, "SELECT network_id FROM subnets WHERE id = ?", (subnet_id,))
    return None if found is None else str(found[0])


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    scope = None if visible_to is None else visible_clause(visible_to)
    return listed(conn, subnets, query, COLUMNS, HOOKS, "Subnet", scope, _joined())


def on_network(conn: Connection, network_id: str) -> list[RowMapping]:
    """The network's subnets in creation order (the order IPAM tries them in)."""
    return list(
        conn.execute(
            select(subnets).where(c.network_id == network_id).order_by(c.created_at, c.id)
        ).mappings()
    )


def _children(
    conn: Connection, table: Any, cols: list[Any], ids: Iterable[str], order: list[Any]
) -> dict[str, list[tuple[Any, ...]]]:
    wanted = list(ids)
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    if not wanted:
        return out
    stmt = select(table.c.subnet_id, *cols).order_by(*order)
    if len(wanted) <= IN_LIMIT:
        stmt = stmt.where(table.c.subnet_id.in_(wanted))
    for sid, *rest in conn.execute(stmt):
        out[sid].append(tuple(rest))
    return out


def pools_of(conn: Connection, ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """(first_ip, last_ip) text pairs per subnet (callers sort numerically)."""
    return _children(conn, pools, [pools.c.first_ip, pools.c.last_ip], ids, [pools.c.subnet_id])


def dns_of(conn: Connection, ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(conn, dns, [dns.c.address], ids, [dns.c.subnet_id, dns.c.position])


def routes_of(conn: Connection, ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _children(
        conn,
        routes,
        [routes.c.destination, routes.c.nexthop],
        ids,
        [routes.c.subnet_id, routes.c.destination, routes.c.nexthop],
    )


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(subnets).values(**values))


def replace_pools(conn: Connection, subnet_id: str, items: list[tuple[str, str]]) -> None:
    conn.execute(delete(pools).where(pools.c.subnet_id == subnet_id))
    if items:
        conn.execute(
            insert(pools), [{"subnet_id": subnet_id, "first_ip": a, "last_ip": b} for a, b in items]
        )


def replace_dns(conn: Connection, subnet_id: str, servers: Sequence[str]) -> None:
    conn.execute(delete(dns).where(dns.c.subnet_id == subnet_id))
    if servers:
        conn.execute(
            insert(dns),
            [{"subnet_id": subnet_id, "address": a, "position": i} for i, a in enumerate(servers)],
        )


def replace_routes(conn: Connection, subnet_id: str, items: list[tuple[str, str]]) -> None:
    conn.execute(delete(routes).where(routes.c.subnet_id == subnet_id))
    if items:
        conn.execute(
            insert(routes),
            [{"subnet_id": subnet_id, "destination": d, "nexthop": n} for d, n in items],
        )


def delete_row(conn: Connection, subnet_id: str) -> None:
    """The subnet and everything hanging off it: pools, DNS, routes, IP allocations."""
    for table in (pools, dns, routes, allocs):
        conn.execute(delete(table).where(table.c.subnet_id == subnet_id))
    conn.execute(delete(subnets).where(c.id == subnet_id))


def projects_on(conn: Connection, network_id: str) -> set[str]:
    return set(
        conn.execute(select(c.project_id).where(c.network_id == network_id).distinct()).scalars()
    )


def ip_versions_on(conn: Connection, network_id: str) -> set[int]:
    return set(
        conn.execute(select(c.ip_version).where(c.network_id == network_id).distinct()).scalars()
    )


# --- allocations (hot path of every port create: statements are built once) --------------

# Raw SQL (store/raw.py): these run on every port create.
_IPAM_SUBNETS = (
    "SELECT s.id, s.network_id, s.cidr, s.gateway_ip, s.ipv6_ra_mode, s.ipv6_address_mode, "
    "s.enable_dhcp, p.first_ip, p.last_ip FROM subnets s "
    "LEFT OUTER JOIN subnet_allocation_pools p ON p.subnet_id = s.id "
    "WHERE s.network_id = ? ORDER BY s.created_at, s.id"
)
_USED_KEYS = (
    "SELECT ip_key FROM ip_allocations WHERE subnet_id = ? AND ip_key >= ? "
    "AND ip_key <= ? ORDER BY ip_key LIMIT ?"
)
_HOLDER = "SELECT port_id FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?"
_INSERT_ALLOCATION = (
    "INSERT INTO ip_allocations (subnet_id, ip_address, ip_key, port_id, network_id, position) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def ipam_subnets(conn: Connection, network_id: str) -> list[tuple[Any, ...]]:
    """(id, network_id, cidr, gateway_ip, ipv6_ra_mode, ipv6_address_mode, enable_dhcp,
    first_ip, last_ip)
    per pool of each subnet of the network (pool columns None for a pool-less subnet), in
    subnet creation order: one query for everything IPAM needs to know about the subnets."""
    return raw.rows(conn, _IPAM_SUBNETS, (network_id,))


def used_keys(conn: Connection, subnet_id: str, lo_key: str, hi_key: str, limit: int) -> list[str]:
    """Keys of allocated addresses in ``[lo_key, hi_key]``, ascending, at most ``limit``."""
    return raw.column(conn, _USED_KEYS, (subnet_id, lo_key, hi_key, limit))


def holder(conn: Connection, subnet_id: str, ip_address: str) -> str | None:
    """The port holding ``ip_address`` on the subnet, if any."""
    found = raw.one(conn, _HOLDER, (subnet_id, ip_address))
    return None if found is None else str(found[0])


def insert_allocations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows with subnet_id, ip_address, ip_key, port_id, network_id, position."""
    raw.run_many(
        conn,
        _INSERT_ALLOCATION,
        [
            (
                r["subnet_id"],
                r["ip_address"],
                r["ip_key"],
                r["port_id"],
                r["network_id"],
                r["position"],
            )
            for r in rows
        ],
    )


def allocations_of_port(conn: Connection, port_id: str) -> list[dict[str, Any]]:
    """The port's fixed IPs (subnet_id, ip_address, ip_key, position), in position order."""
    return [
        {"subnet_id": r[0], "ip_address": r[1], "ip_key": r[2], "position": r[3]}
        for r in raw.rows(
            conn,
            "SELECT subnet_id, ip_address, ip_key, position FROM "
            "ip_allocations WHERE port_id = ? ORDER BY position",
            (port_id,),
        )
    ]


def next_positions(conn: Connection, port_ids: list[str]) -> dict[str, int]:
    """For each port, one more than its highest fixed-IP position (0 when it has none)."""
    out = dict.fromkeys(port_ids, 0)
    if port_ids:
        for pid, top in conn.execute(
            select(allocs.c.port_id, func.max(allocs.c.position))
            .where(allocs.c.port_id.in_(port_ids))
            .group_by(allocs.c.port_id)
        ):
            out[pid] = top + 1
    return out


def delete_allocations(
    conn: Connection, port_id: str, which: list[tuple[str, str]] | None = None
) -> None:
    """Delete the port's allocations: all, or the given (subnet_id, ip_address) pairs."""
    if which is None:
        raw.run(conn, "DELETE FROM ip_allocations WHERE port_id = ?", (port_id,))
        return
    raw.run_many(
        conn,
        "DELETE FROM ip_allocations WHERE port_id = ? AND subnet_id = ? AND ip_address = ?",
        [(port_id, s, a) for s, a in which],
    )


def allocation_users(conn: Connection, subnet_id: str) -> list[tuple[str, str, str, str]]:
    """(port_id, device_owner, ip_address, port project_id) of every allocation on the
    subnet."""
    return [
        (r[0], r[1], r[2], r[3])
        for r in conn.execute(
            select(allocs.c.port_id, ports.c.device_owner, allocs.c.ip_address, ports.c.project_id)
            .join(ports, ports.c.id == allocs.c.port_id)
            .where(allocs.c.subnet_id == subnet_id)
        )
    ]


def ports_on_network(conn: Connection, network_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(ports.c.id, ports.c.mac_address, ports.c.device_owner, ports.c.project_id)
            .where(ports.c.network_id == network_id)
            .order_by(ports.c.created_at, ports.c.id)
        ).mappings()
    )
