"""RBAC policy rows and the visibility questions they answer.

``granted_clause`` is what list queries of networks and subnets add to their visibility
clause: one ``EXISTS`` on the (object, target) index, so an RBAC-filtered list stays one
query. The wildcard share is mirrored by the networks' ``shared`` column (kept in the same
transaction by the service), which spares the lookup for shared networks; ``router_external``
says only whether any ``access_as_external`` policy exists (one naming a project makes the
network external for that project alone).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Table,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
    update,
)

from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import Port
from neutrino.store.models_rbac import RbacPolicy
from neutrino.store.query import Column, listed, own_rows

policies = RbacPolicy.__table__
ports = Port.__table__
p = policies.c
WILDCARD = "*"
SHARED = "access_as_shared"
EXTERNAL = "access_as_external"

COLUMNS: dict[str, Column] = {
    "id": Column(p.id),
    "project_id": Column(p.project_id),
    "tenant_id": Column(p.project_id),
    "object_type": Column(p.object_type),
    "object_id": Column(p.object_id),
    "action": Column(p.action),
    "target_tenant": Column(p.target_project),
    "target_project": Column(p.target_project),
}
HOOKS: dict[str, Any] = {}


def granted_clause(object_id_column: Any, project_id: str) -> Any:
    """Rows whose object a policy grants to ``project_id``, by name or to all."""
    return exists().where(
        p.object_id == object_id_column, p.target_project.in_([project_id, WILDCARD])
    )


def shared_scope(table: Table, project_id: str | None) -> Any:
    """The scope of a shareable resource for ``project_id`` (None: every row; "": none): its
    own rows, those shared to all (``shared`` mirrors the wildcard policy and spares the
    lookup) and those a policy grants to it (``granted_clause``)."""
    if project_id is None:
        return None
    if not project_id:  # unscoped: "" would match project-less rows
        return false()
    return or_(
        table.c.project_id == project_id,
        table.c.shared.is_(True),
        granted_clause(table.c.id, project_id),
    )


def shared_clause(object_id_column: Any, project_id: str) -> Any:
    """Rows whose object is shared (``access_as_shared``) to ``project_id``, by name or to
    all: the condition behind a derived ``shared`` attribute. An unscoped caller sees none
    shared, as its views say (``granted_ids``)."""
    if not project_id:
        return false()
    return exists().where(
        p.object_id == object_id_column,
        p.action == SHARED,
        p.target_project.in_([project_id, WILDCARD]),
    )


def actions_for(conn: Connection, object_id: str, project_id: str) -> set[str]:
    """The actions granted on the object to the project, by name or by wildcard."""
    if not project_id:
        return set()
    return set(
        conn.execute(
            select(p.action).where(
                p.object_id == object_id, p.target_project.in_([project_id, WILDCARD])
            )
        ).scalars()
    )


def shared_to(conn: Connection, project_id: str, object_ids: list[str]) -> set[str]:
    """Of these objects, those shared (``access_as_shared``) to the project by name."""
    if not project_id or not object_ids:
        return set()
    stmt = select(p.object_id).where(p.target_project == project_id, p.action == SHARED)
    if len(object_ids) <= 500:
        stmt = stmt.where(p.object_id.in_(object_ids))
    return set(conn.execute(stmt).scalars()) & set(object_ids)


def granted_ids(
    conn: Connection, project_id: str, object_ids: list[str], action: str = SHARED
) -> set[str]:
    """Of these objects, those granted to the project by name or to all."""
    if not project_id or not object_ids:
        return set()
    # raw (``store.raw``): every port create with security groups asks it
    found = raw.column(
        conn,
        f"SELECT object_id FROM {policies.name} WHERE action = ? "
        f"AND target_project IN (?, ?) AND object_id IN ({raw.marks(object_ids)})",
        (action, project_id, WILDCARD, *object_ids),
    )
    return set(found)


def find(conn: Connection, policy_id: str, *, for_update: bool = False) -> RowMapping | None:
    stmt = select(policies).where(p.id == policy_id)
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).mappings().first()


def find_by(conn: Connection, object_id: str, action: str, target: str) -> RowMapping | None:
    return (
        conn.execute(
            select(policies).where(
                p.object_id == object_id, p.action == action, p.target_project == target
            )
        )
        .mappings()
        .first()
    )


def targets(conn: Connection, object_id: str, action: str) -> set[str]:
    return set(
        conn.execute(
            select(p.target_project).where(p.object_id == object_id, p.action == action)
        ).scalars()
    )


def list_rows(conn: Connection, query: ListQuery, owner: str | None) -> list[RowMapping]:
    """Policies are the owner's to see (``owner`` None: an admin sees all)."""
    return listed(conn, policies, query, COLUMNS, HOOKS, "RBAC policy", own_rows(policies, owner))


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(policies).values(**values))


def set_target(conn: Connection, policy_id: str, target: str) -> None:
    conn.execute(update(policies).where(p.id == policy_id).values(target_project=target))


def delete_row(conn: Connection, policy_id: str) -> None:
    conn.execute(delete(policies).where(p.id == policy_id))


def delete_for(
    conn: Connection, object_id: str, action: str | None = None, target: str | None = None
) -> list[tuple[str, str]]:
    """Delete an object's policies (of one action, to one target); the (id, project_id) of
    each, for the change log."""
    where = [p.object_id == object_id]
    if action is not None:
        where.append(p.action == action)
    if target is not None:
        where.append(p.target_project == target)
    gone = [(r.id, r.project_id) for r in conn.execute(select(p.id, p.project_id).where(*where))]
    conn.execute(delete(policies).where(*where))
    return gone


def port_projects(
    conn: Connection, network_id: str, *, skip_network_owned: bool = False
) -> set[str]:
    """The projects that have ports on the network (those ports depend on its sharing)."""
    stmt = select(ports.c.project_id).distinct().where(ports.c.network_id == network_id)
    if skip_network_owned:
        stmt = stmt.where(~ports.c.device_owner.startswith("network:"))
    return set(conn.execute(stmt).scalars())


def group_port_projects(conn: Connection, group_id: str) -> set[str]:
    """The projects whose ports use the security group."""
    from neutrino.store.models import PortSecurityGroup

    bindings = PortSecurityGroup.__table__
    return set(
        conn.execute(
            select(ports.c.project_id)
            .distinct()
            .join(bindings, bindings.c.port_id == ports.c.id)
            .where(bindings.c.security_group_id == group_id)
        ).scalars()
    )


def gateway_projects(conn: Connection, network_id: str) -> set[str]:
    """The projects of the routers whose gateway is on the network."""
    from neutrino.store.models_l3 import Router  # here: models_l3 imports models, as we do

    routers = Router.__table__
    return set(
        conn.execute(
            select(routers.c.project_id)
            .distinct()
            .join(ports, ports.c.id == routers.c.gw_port_id)
            .where(ports.c.network_id == network_id)
        ).scalars()
    )
