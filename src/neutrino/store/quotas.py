"""Quota overrides per project and the usage counts quotas are checked against."""

from __future__ import annotations

from sqlalchemy import Connection, Table, delete, insert, select, update

from neutrino.store import raw
from neutrino.store.models import Network, Port, Quota, Subnet
from neutrino.store.models_l3 import FloatingIp, Router
from neutrino.store.models_pools import AddressScope, SubnetPool
from neutrino.store.models_rbac import RbacPolicy
from neutrino.store.models_security import SecurityGroup, SecurityGroupRule

quotas = Quota.__table__
COUNTED: dict[str, Table] = {
    "network": Network.__table__,
    "subnet": Subnet.__table__,
    "port": Port.__table__,
    "router": Router.__table__,
    "floatingip": FloatingIp.__table__,
    "security_group": SecurityGroup.__table__,
    "security_group_rule": SecurityGroupRule.__table__,
    "rbac_policy": RbacPolicy.__table__,
    "subnetpool": SubnetPool.__table__,
    "address_scope": AddressScope.__table__,
}


def overrides(conn: Connection, project_id: str | None = None) -> dict[str, dict[str, int]]:
    stmt = select(quotas.c.project_id, quotas.c.resource, quotas.c.limit)
    if project_id is not None:
        stmt = stmt.where(quotas.c.project_id == project_id)
    out: dict[str, dict[str, int]] = {}
    for project, resource, limit in conn.execute(stmt):
        out.setdefault(project, {})[resource] = limit
    return out


def set_limit(conn: Connection, project_id: str, resource: str, limit: int) -> None:
    changed = conn.execute(
        update(quotas)
        .where(quotas.c.project_id == project_id, quotas.c.resource == resource)
        .values(limit=limit)
    )
    if not changed.rowcount:
        conn.execute(insert(quotas).values(project_id=project_id, resource=resource, limit=limit))


def reset(conn: Connection, project_id: str) -> None:
    conn.execute(delete(quotas).where(quotas.c.project_id == project_id))


def limit_of(conn: Connection, project_id: str, resource: str) -> int | None:
    found = raw.one(
        conn,
        'SELECT "limit" FROM quotas WHERE project_id = ? AND resource = ?',
        (project_id, resource),
    )
    return None if found is None else int(found[0])


def usage(conn: Connection, project_id: str, resource: str) -> int:
    table = COUNTED[resource].name
    found = raw.one(conn, f"SELECT count(*) FROM {table} WHERE project_id = ?", (project_id,))
    return int(found[0]) if found else 0
