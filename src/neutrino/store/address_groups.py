"""Address groups and their addresses (``models_address_groups``).

A list is one query for the groups plus one for the addresses of the listed groups. A
project sees its own groups, those shared to all (``shared``, the wildcard RBAC policy's
mirror) and those a policy shares to it by name (``granted_clause``). ``addresses_of``
also serves host state: the addresses of the groups the host's rules name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store.models_address_groups import AddressGroup, AddressGroupAddress
from neutrino.store.models_security import SecurityGroupRule
from neutrino.store.query import Column, listed, rows_by_key, standard_columns
from neutrino.store.rbac import shared_scope
from neutrino.store.timestamps import changed_since_filter

groups = AddressGroup.__table__
addresses = AddressGroupAddress.__table__
rules = SecurityGroupRule.__table__
g = groups.c

COLUMNS: dict[str, Column] = {**standard_columns(groups), "shared": Column(g.shared, to_bool)}
HOOKS: dict[str, Any] = {**changed_since_filter(groups)}


def find(conn: Connection, group_id: str) -> RowMapping | None:
    return conn.execute(select(groups).where(g.id == group_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """``visible_to`` None: every group (an admin); "" none."""
    scope = shared_scope(groups, visible_to)
    return listed(conn, groups, query, COLUMNS, HOOKS, "Address group", scope)


def addresses_of(conn: Connection, group_ids: Sequence[str]) -> dict[str, list[str]]:
    """group id -> its addresses, sorted as strings."""
    stmt = select(addresses.c.address_group_id, addresses.c.address).order_by(addresses.c.address)
    return rows_by_key(conn, stmt, group_ids)


def everything(conn: Connection) -> list[dict[str, Any]]:
    """Every group as ``{"id", "addresses"}`` (the packet trace's model)."""
    ids = list(conn.execute(select(g.id).order_by(g.id)).scalars())
    found = addresses_of(conn, ids)
    return [{"id": i, "addresses": found.get(i, [])} for i in ids]


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(groups).values(**values))


def add_addresses(conn: Connection, group_id: str, cidrs: Sequence[str]) -> None:
    if cidrs:
        conn.execute(
            insert(addresses), [{"address_group_id": group_id, "address": c} for c in cidrs]
        )


def remove_addresses(conn: Connection, group_id: str, cidrs: Sequence[str]) -> None:
    if cidrs:
        conn.execute(
            delete(addresses).where(
                addresses.c.address_group_id == group_id, addresses.c.address.in_(list(cidrs))
            )
        )


def delete_row(conn: Connection, group_id: str) -> None:
    """Delete a group; its addresses go with it (ON DELETE CASCADE)."""
    conn.execute(delete(addresses).where(addresses.c.address_group_id == group_id))
    conn.execute(delete(groups).where(g.id == group_id))


def in_use(conn: Connection, group_id: str) -> bool:
    """Whether a security-group rule names the group as its remote."""
    stmt = select(rules.c.id).where(rules.c.remote_address_group_id == group_id).limit(1)
    return conn.execute(stmt).first() is not None


def rule_projects(conn: Connection, group_id: str) -> set[str]:
    """The projects of the rules naming the group (who an RBAC removal would cut off)."""
    stmt = select(rules.c.project_id).distinct().where(rules.c.remote_address_group_id == group_id)
    return set(conn.execute(stmt).scalars())
