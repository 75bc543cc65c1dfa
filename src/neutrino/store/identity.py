"""Identity rows: domains, projects, users, roles, role assignments and revocation events.

Plain Core queries on the identity tables, no rules: the identity service decides who may do
what and what the rows mean. Four of the tables share one shape (an ``id`` primary key plus
columns), so they share the generic ``get``/``find``/``insert``/``update``/``delete`` helpers,
keyed by kind. Role assignments and revocation events have their own functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, delete, func, insert, select, update

from neutrino.store.models import Domain, Project, Revocation, Role, RoleAssignment, User

TABLES: dict[str, Table] = {
    "domain": Domain.__table__,
    "project": Project.__table__,
    "user": User.__table__,
    "role": Role.__table__,
}
assignments: Table = RoleAssignment.__table__
revocations: Table = Revocation.__table__
roles: Table = TABLES["role"]
projects: Table = TABLES["project"]


# --- domains, projects, users, roles ------------------------------------------------------


def get(conn: Connection, kind: str, row_id: str) -> RowMapping | None:
    table = TABLES[kind]
    return conn.execute(select(table).where(table.c.id == row_id)).mappings().first()


def find(conn: Connection, kind: str, **equal: Any) -> list[RowMapping]:
    """Rows of ``kind`` whose columns equal the given values, ordered by name then id."""
    table = TABLES[kind]
    stmt = select(table).order_by(table.c.name, table.c.id)
    for column, value in equal.items():
        stmt = stmt.where(table.c[column] == value)
    return list(conn.execute(stmt).mappings())


def find_one(conn: Connection, kind: str, **equal: Any) -> RowMapping | None:
    rows = find(conn, kind, **equal)
    return rows[0] if rows else None


def insert_row(conn: Connection, kind: str, values: dict[str, Any]) -> None:
    conn.execute(insert(TABLES[kind]).values(**values))


def update_row(conn: Connection, kind: str, row_id: str, values: dict[str, Any]) -> None:
    if values:
        table = TABLES[kind]
        conn.execute(update(table).where(table.c.id == row_id).values(**values))


def delete_row(conn: Connection, kind: str, row_id: str) -> None:
    table = TABLES[kind]
    conn.execute(delete(table).where(table.c.id == row_id))


# --- role assignments -----------------------------------------------------------------------


def has_assignment(conn: Connection, project_id: str, user_id: str, role_id: str) -> bool:
    a = assignments.c
    stmt = select(a.role_id).where(
        a.project_id == project_id, a.user_id == user_id, a.role_id == role_id
    )
    return conn.execute(stmt).first() is not None


def assign(conn: Connection, project_id: str, user_id: str, role_id: str) -> None:
    """Idempotent: granting a role twice leaves one assignment."""
    if not has_assignment(conn, project_id, user_id, role_id):
        conn.execute(
            insert(assignments).values(project_id=project_id, user_id=user_id, role_id=role_id)
        )


def unassign(conn: Connection, project_id: str, user_id: str, role_id: str) -> None:
    a = assignments.c
    conn.execute(
        delete(assignments).where(
            a.project_id == project_id, a.user_id == user_id, a.role_id == role_id
        )
    )


def delete_assignments(conn: Connection, column: str, value: str) -> None:
    """Remove every assignment naming ``value`` in ``column`` (project_id, user_id, role_id)."""
    conn.execute(delete(assignments).where(assignments.c[column] == value))


def list_assignments(conn: Connection, **equal: str) -> list[RowMapping]:
    """Assignments (project_id, user_id, role_id, role_name), filtered by equal columns."""
    a = assignments.c
    stmt = (
        select(a.project_id, a.user_id, a.role_id, roles.c.name.label("role_name"))
        .join(roles, roles.c.id == a.role_id)
        .order_by(a.project_id, a.user_id, roles.c.name)
    )
    for column, value in equal.items():
        stmt = stmt.where(a[column] == value)
    return list(conn.execute(stmt).mappings())


def roles_on(conn: Connection, user_id: str, project_id: str) -> list[RowMapping]:
    """The roles (id, name) ``user_id`` holds directly on ``project_id``."""
    a = assignments.c
    stmt = (
        select(roles.c.id, roles.c.name)
        .join(assignments, a.role_id == roles.c.id)
        .where(a.user_id == user_id, a.project_id == project_id)
        .order_by(roles.c.name)
    )
    return list(conn.execute(stmt).mappings())


def projects_of(conn: Connection, user_id: str) -> list[RowMapping]:
    """The projects on which ``user_id`` holds at least one role."""
    a = assignments.c
    ids = select(a.project_id).where(a.user_id == user_id).distinct()
    stmt = select(projects).where(projects.c.id.in_(ids)).order_by(projects.c.name)
    return list(conn.execute(stmt).mappings())


# --- revocation events ---------------------------------------------------------------------


def add_revocation(conn: Connection, kind: str, value: str, issued_before: dt.datetime) -> None:
    conn.execute(
        insert(revocations).values(kind=kind, value=value[:64], issued_before=issued_before)
    )


def prune_revocations(conn: Connection, older_than: dt.datetime) -> None:
    """Forget events that can no longer match a live token (all such tokens have expired)."""
    conn.execute(delete(revocations).where(revocations.c.issued_before < older_than))


def revocation_head(conn: Connection) -> tuple[int, int]:
    """(max id, count): changes whenever an event is added, even one that commits late."""
    r = revocations.c
    row = conn.execute(select(func.coalesce(func.max(r.id), 0), func.count(r.id))).one()
    return int(row[0]), int(row[1])


def list_revocations(conn: Connection, newer_than: dt.datetime) -> list[RowMapping]:
    r = revocations.c
    stmt = select(r.kind, r.value, r.issued_before).where(r.issued_before >= newer_than)
    return list(conn.execute(stmt).mappings())
