"""Flavors, service profiles and their bindings (``models_flavors``), and the routers that
name a flavor.

A list is one query for the rows plus one for the bindings of the listed rows (a flavor
shows its profiles' ids). Neither resource has a project: every caller allowed to list
sees every row (the service decides who may list at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from neutrino.domain.attributes import to_bool
from neutrino.domain.listing import ListQuery
from neutrino.store.models_flavors import Flavor, FlavorServiceProfileBinding, ServiceProfile
from neutrino.store.models_l3 import Router
from neutrino.store.query import Column, listed, nullable_str, rows_by_key

flavors = Flavor.__table__
profiles = ServiceProfile.__table__
bindings = FlavorServiceProfileBinding.__table__
routers = Router.__table__
f, p, b = flavors.c, profiles.c, bindings.c

FLAVOR_COLUMNS: dict[str, Column] = {
    "id": Column(f.id),
    "name": Column(f.name, nullable_str),
    "description": Column(f.description, nullable_str),
    "service_type": Column(f.service_type, nullable_str),
    "enabled": Column(f.enabled, to_bool),
}
PROFILE_COLUMNS: dict[str, Column] = {
    "id": Column(p.id),
    "description": Column(p.description, nullable_str),
    "driver": Column(p.driver),
    "enabled": Column(p.enabled, to_bool),
}
HOOKS: dict[str, Any] = {}


def find_flavor(conn: Connection, flavor_id: str) -> RowMapping | None:
    return conn.execute(select(flavors).where(f.id == flavor_id)).mappings().first()


def find_profile(conn: Connection, profile_id: str) -> RowMapping | None:
    return conn.execute(select(profiles).where(p.id == profile_id)).mappings().first()


def list_flavors(conn: Connection, query: ListQuery) -> list[RowMapping]:
    return listed(conn, flavors, query, FLAVOR_COLUMNS, HOOKS, "Flavor")


def list_profiles(conn: Connection, query: ListQuery) -> list[RowMapping]:
    return listed(conn, profiles, query, PROFILE_COLUMNS, HOOKS, "Service Profile")


def profiles_of(conn: Connection, flavor_ids: Sequence[str]) -> dict[str, list[str]]:
    """flavor id -> the ids of its bound profiles, sorted."""
    stmt = select(b.flavor_id, b.service_profile_id).order_by(b.service_profile_id)
    return rows_by_key(conn, stmt, flavor_ids)


def insert_flavor(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(flavors).values(**values))


def insert_profile(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(profiles).values(**values))


def update_flavor(conn: Connection, flavor_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(flavors).where(f.id == flavor_id).values(**values))


def update_profile(conn: Connection, profile_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(profiles).where(p.id == profile_id).values(**values))


def delete_flavor(conn: Connection, flavor_id: str) -> None:
    """Delete a flavor and its bindings (ON DELETE CASCADE, written out for SQLite)."""
    conn.execute(delete(bindings).where(b.flavor_id == flavor_id))
    conn.execute(delete(flavors).where(f.id == flavor_id))


def delete_profile(conn: Connection, profile_id: str) -> None:
    conn.execute(delete(profiles).where(p.id == profile_id))


def bound(conn: Connection, flavor_id: str, profile_id: str) -> bool:
    stmt = select(b.flavor_id).where(b.flavor_id == flavor_id, b.service_profile_id == profile_id)
    return conn.execute(stmt).first() is not None


def first_profile(conn: Connection, flavor_id: str) -> RowMapping | None:
    """The profile a flavor's next provider comes from (Neutron takes the first binding)."""
    stmt = (
        select(profiles)
        .join(bindings, b.service_profile_id == p.id)
        .where(b.flavor_id == flavor_id)
        .order_by(p.id)
        .limit(1)
    )
    return conn.execute(stmt).mappings().first()


def bind(conn: Connection, flavor_id: str, profile_id: str) -> None:
    conn.execute(insert(bindings).values(flavor_id=flavor_id, service_profile_id=profile_id))


def unbind(conn: Connection, flavor_id: str, profile_id: str) -> int:
    """Remove a binding; the number of rows removed (0: there was none)."""
    stmt = delete(bindings).where(b.flavor_id == flavor_id, b.service_profile_id == profile_id)
    return conn.execute(stmt).rowcount


def profile_bound(conn: Connection, profile_id: str) -> bool:
    """Whether any flavor is bound to the profile."""
    stmt = select(b.flavor_id).where(b.service_profile_id == profile_id).limit(1)
    return conn.execute(stmt).first() is not None


def flavor_in_use(conn: Connection, flavor_id: str) -> bool:
    """Whether a router was made with the flavor."""
    stmt = select(routers.c.id).where(routers.c.flavor_id == flavor_id).limit(1)
    return conn.execute(stmt).first() is not None
