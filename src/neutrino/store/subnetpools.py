"""Subnet pools, their prefixes, address scopes, and the questions allocation asks.

Lists are one query each for the rows, plus one for the prefixes of the listed pools. A
project sees its own pools and scopes, those shared to all (``shared``, the mirror of the
wildcard RBAC policy) and those an RBAC policy shares to it by name (``granted_clause``).

What a pool has handed out is the cidrs of the subnets naming it (``allocated``), read after
the pool's row lock by the allocating transaction (``service.subnet_from_pool``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store.models import Subnet
from neutrino.store.models_pools import AddressScope, SubnetPool, SubnetPoolPrefix
from neutrino.store.query import (
    Column,
    listed,
    nullable_int,
    nullable_str,
    rows_by_key,
    standard_columns,
)
from neutrino.store.rbac import shared_scope
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

pools = SubnetPool.__table__
prefixes = SubnetPoolPrefix.__table__
scopes = AddressScope.__table__
subnets = Subnet.__table__
p = pools.c
s = scopes.c

COLUMNS: dict[str, Column] = {
    **standard_columns(pools),
    "ip_version": Column(p.ip_version, to_int),
    "default_prefixlen": Column(p.default_prefixlen, to_int),
    "min_prefixlen": Column(p.min_prefixlen, to_int),
    "max_prefixlen": Column(p.max_prefixlen, to_int),
    "shared": Column(p.shared, to_bool),
    "is_default": Column(p.is_default, to_bool),
    "default_quota": Column(p.default_quota, nullable_int),
    "address_scope_id": Column(p.address_scope_id, nullable_str),
}
HOOKS: dict[str, Any] = {**tag_filters(pools), **changed_since_filter(pools)}

SCOPE_COLUMNS: dict[str, Column] = {
    **standard_columns(scopes),
    "ip_version": Column(s.ip_version, to_int),
    "shared": Column(s.shared, to_bool),
}
SCOPE_HOOKS: dict[str, Any] = {**changed_since_filter(scopes)}


# --- pools -----------------------------------------------------------------------------------


def find(conn: Connection, pool_id: str) -> RowMapping | None:
    return conn.execute(select(pools).where(p.id == pool_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """``visible_to`` None: every pool (an admin)."""
    return listed(conn, pools, query, COLUMNS, HOOKS, "Subnetpool", shared_scope(pools, visible_to))


def default_pool(conn: Connection, ip_version: int) -> RowMapping | None:
    stmt = select(pools).where(p.is_default.is_(True), p.ip_version == ip_version)
    return conn.execute(stmt.order_by(p.id)).mappings().first()


def prefixes_of(conn: Connection, pool_ids: list[str]) -> dict[str, list[str]]:
    return rows_by_key(conn, select(prefixes.c.subnetpool_id, prefixes.c.cidr), pool_ids)


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(pools).values(**values))


def update_row(conn: Connection, pool_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(pools).where(p.id == pool_id).values(**values))


def delete_row(conn: Connection, pool_id: str) -> None:
    """Delete a pool; its prefixes go with it (ON DELETE CASCADE)."""
    conn.execute(delete(pools).where(p.id == pool_id))


def replace_prefixes(conn: Connection, pool_id: str, cidrs: list[str]) -> None:
    conn.execute(delete(prefixes).where(prefixes.c.subnetpool_id == pool_id))
    if cidrs:
        conn.execute(insert(prefixes), [{"subnetpool_id": pool_id, "cidr": c} for c in cidrs])


def allocated(conn: Connection, pool_id: str) -> list[tuple[str, str]]:
    """(cidr, project_id) of every subnet carved from the pool."""
    stmt = select(subnets.c.cidr, subnets.c.project_id).where(subnets.c.subnetpool_id == pool_id)
    return [(cidr, project) for cidr, project in conn.execute(stmt)]


def in_use(conn: Connection, pool_id: str) -> bool:
    stmt = select(subnets.c.id).where(subnets.c.subnetpool_id == pool_id).limit(1)
    return conn.execute(stmt).first() is not None


def subnet_projects(conn: Connection, pool_id: str) -> set[str]:
    stmt = select(subnets.c.project_id).distinct().where(subnets.c.subnetpool_id == pool_id)
    return set(conn.execute(stmt).scalars())


def pools_in_scope(conn: Connection, scope_id: str) -> list[RowMapping]:
    return list(conn.execute(select(pools).where(p.address_scope_id == scope_id)).mappings())


def networks_of_pool(conn: Connection, pool_id: str) -> set[str]:
    stmt = select(subnets.c.network_id).distinct().where(subnets.c.subnetpool_id == pool_id)
    return set(conn.execute(stmt).scalars())


def subnets_on(conn: Connection, network_ids: set[str], ip_version: int) -> list[RowMapping]:
    """The subnets of one version on the networks, with their pool's address scope."""
    if not network_ids:
        return []
    stmt = (
        select(subnets.c.id, subnets.c.subnetpool_id, p.address_scope_id)
        .select_from(subnets.outerjoin(pools, p.id == subnets.c.subnetpool_id))
        .where(subnets.c.network_id.in_(sorted(network_ids)), subnets.c.ip_version == ip_version)
    )
    return list(conn.execute(stmt).mappings())


def network_scopes(conn: Connection, network_ids: list[str]) -> dict[str, dict[int, str]]:
    """Network id -> {ip_version: address scope id} for networks whose subnets come from
    pools in a scope (Neutron's ``ipv4_address_scope``/``ipv6_address_scope``)."""
    out: dict[str, dict[int, str]] = defaultdict(dict)
    if not network_ids:
        return out
    stmt = (
        select(subnets.c.network_id, p.ip_version, p.address_scope_id)
        .distinct()
        .join(pools, p.id == subnets.c.subnetpool_id)
        .where(p.address_scope_id.is_not(None))
    )
    if len(network_ids) <= 500:
        stmt = stmt.where(subnets.c.network_id.in_(network_ids))
    for network_id, version, scope_id in conn.execute(stmt):
        out[network_id][version] = scope_id
    return out


# --- address scopes --------------------------------------------------------------------------


def find_scope(conn: Connection, scope_id: str) -> RowMapping | None:
    return conn.execute(select(scopes).where(s.id == scope_id)).mappings().first()


def list_scopes(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    scope = shared_scope(scopes, visible_to)
    return listed(conn, scopes, query, SCOPE_COLUMNS, SCOPE_HOOKS, "Address scope", scope)


def insert_scope(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(scopes).values(**values))


def delete_scope(conn: Connection, scope_id: str) -> None:
    conn.execute(delete(scopes).where(s.id == scope_id))


def scope_in_use(conn: Connection, scope_id: str) -> bool:
    stmt = select(p.id).where(p.address_scope_id == scope_id).limit(1)
    return conn.execute(stmt).first() is not None


def scope_pool_projects(conn: Connection, scope_id: str) -> set[str]:
    stmt = select(p.project_id).distinct().where(p.address_scope_id == scope_id)
    return set(conn.execute(stmt).scalars())
