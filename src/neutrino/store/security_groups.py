"""Security groups, their rules, the per-project default group, the default-rule templates and
the port bindings' use of groups. Lists render in two queries: one for the groups, one for all
their rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    delete,
    false,
    insert,
    or_,
    select,
    true,
)

from neutrino.common.errors import InvalidInput
from neutrino.domain.attributes import Invalid, to_bool
from neutrino.domain.listing import ListQuery
from neutrino.domain.security_groups import Template
from neutrino.store import raw
from neutrino.store.models import PortSecurityGroup
from neutrino.store.models_security import (
    DefaultSecurityGroup,
    DefaultSecurityGroupRule,
    SecurityGroup,
    SecurityGroupRule,
    template_row,
)
from neutrino.store.query import (
    NULLS,
    Column,
    listed,
    nullable_int,
    nullable_str,
    timestamp_column,
)
from neutrino.store.rbac import granted_clause, shared_clause
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

groups = SecurityGroup.__table__
rules = SecurityGroupRule.__table__
defaults = DefaultSecurityGroup.__table__
templates = DefaultSecurityGroupRule.__table__
port_sgs = PortSecurityGroup.__table__
IN_LIMIT = 500

g = groups.c
GROUP_COLUMNS: dict[str, Column] = {
    "id": Column(g.id),
    "name": Column(g.name),
    "description": Column(g.description),
    "project_id": Column(g.project_id),
    "tenant_id": Column(g.project_id),
    "stateful": Column(g.stateful, to_bool),
    "revision_number": Column(g.revision_number, int),
    "created_at": timestamp_column(g.created_at),
    "updated_at": timestamp_column(g.updated_at),
}


def shared_filter(project_id: str) -> Any:
    """The ``shared`` filter as ``project_id`` sees it (security-groups-shared-filtering):
    true keeps the groups an RBAC policy shares to that project or to all, false the others,
    the same test as the view's ``shared``."""

    def hook(values: list[Any]) -> ColumnElement[bool]:
        try:
            wanted = {to_bool(v) for v in values}
        except Invalid as exc:  # Neutron converts the value: a malformed one is a 400
            raise InvalidInput(str(exc)) from None
        shared = shared_clause(g.id, project_id)
        if wanted == {True}:
            return shared  # type: ignore[no-any-return]
        if wanted == {False}:
            return ~shared  # type: ignore[no-any-return]
        return true()

    return hook


# ``shared`` depends on the caller: ``list_groups`` replaces this project-less one.
GROUP_HOOKS: dict[str, Any] = {
    **tag_filters(groups),
    **changed_since_filter(groups),
    "shared": shared_filter(""),
}


def _no_address_group(values: list[Any]) -> ColumnElement[bool]:
    """Templates never name an address group: only a null filter matches."""
    return true() if all(v in NULLS for v in values) else false()


r = rules.c
RULE_COLUMNS: dict[str, Column] = {
    "id": Column(r.id),
    "security_group_id": Column(r.security_group_id),
    "direction": Column(r.direction),
    "ethertype": Column(r.ethertype),
    "protocol": Column(r.protocol, nullable_str),
    "port_range_min": Column(r.port_range_min, nullable_int),
    "port_range_max": Column(r.port_range_max, nullable_int),
    "remote_ip_prefix": Column(r.remote_ip_prefix, nullable_str),
    "remote_group_id": Column(r.remote_group_id, nullable_str),
    "remote_address_group_id": Column(r.remote_address_group_id, nullable_str),
    "normalized_cidr": Column(r.normalized_cidr, nullable_str),
    "description": Column(r.description),
    "project_id": Column(r.project_id),
    "tenant_id": Column(r.project_id),
    "revision_number": Column(r.revision_number, int),
    "created_at": timestamp_column(r.created_at),
    "updated_at": timestamp_column(r.updated_at),
}
# ``belongs_to_default_sg`` (extension ``security-groups-rules-belongs-to-default-sg``): derived
# from the default-group map, never stored; filterable but, as in Neutron, not a sort key
IN_DEFAULT_GROUP = (
    select(defaults.c.security_group_id)
    .where(defaults.c.security_group_id == r.security_group_id)
    .exists()
)
RULE_SELECT = (rules, IN_DEFAULT_GROUP.label("belongs_to_default_sg"))


def _in_default_group(values: list[str]) -> ColumnElement[bool]:
    wanted = set()
    for value in values:
        try:
            wanted.add(to_bool(value))
        except Invalid as exc:
            raise InvalidInput(str(exc)) from None
    if wanted == {True, False}:
        return true()
    return IN_DEFAULT_GROUP if True in wanted else ~IN_DEFAULT_GROUP


RULE_HOOKS: dict[str, Any] = {
    **changed_since_filter(rules),
    "belongs_to_default_sg": _in_default_group,
}


# --- groups --------------------------------------------------------------------------------


def find_group(conn: Connection, group_id: str) -> RowMapping | None:
    return conn.execute(select(groups).where(g.id == group_id)).mappings().first()


def groups_by_ids(conn: Connection, ids: Iterable[str]) -> dict[str, RowMapping]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = conn.execute(select(groups).where(g.id.in_(wanted))).mappings()
    return {row["id"]: row for row in found}


def owners(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """Group id -> (project_id, stateful), for the groups that exist: what a port create
    checks of its groups, raw (``store.raw``) as it is asked on every one."""
    rows = raw.rows_in(
        conn, f"SELECT id, project_id, stateful FROM {groups.name} WHERE id IN ({{ids}})", ids
    )
    return {gid: (project, bool(stateful)) for gid, project, stateful in rows}


def list_groups(
    conn: Connection, query: ListQuery, visible_to: str | None, project_id: str = ""
) -> list[RowMapping]:
    """Groups ``visible_to`` a project (None: all), ``shared`` filtered as ``project_id``
    (the caller's) sees it."""
    hooks = {**GROUP_HOOKS, "shared": shared_filter(project_id)}
    scope = None
    if visible_to is not None:  # own groups, and those an RBAC policy shares to the project
        scope = (
            or_(g.project_id == visible_to, granted_clause(g.id, visible_to))
            if visible_to
            else false()
        )
    return listed(conn, groups, query, GROUP_COLUMNS, hooks, "Security group", scope)


def insert_group(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(groups).values(**values))


def delete_group(conn: Connection, group_id: str) -> None:
    """Delete a group; its rules, rules naming it as remote and its default-group mapping go
    with it (ON DELETE CASCADE)."""
    conn.execute(delete(groups).where(g.id == group_id))


def rules_naming(conn: Connection, group_id: str) -> list[tuple[str, str]]:
    """(id, project_id) of other groups' rules naming the group as remote (they go with it)."""
    stmt = select(r.id, r.project_id).where(
        r.remote_group_id == group_id, r.security_group_id != group_id
    )
    return [(rule_id, project) for rule_id, project in conn.execute(stmt)]


def default_group_id(conn: Connection, project_id: str) -> str | None:
    """The project's default group: one primary-key lookup (the port-create hot path)."""
    found = raw.one(
        conn,
        "SELECT security_group_id FROM default_security_groups WHERE project_id = ?",
        (project_id,),
    )
    return None if found is None else str(found[0])


def insert_default(conn: Connection, project_id: str, group_id: str) -> None:
    conn.execute(insert(defaults).values(project_id=project_id, security_group_id=group_id))


def ports_using(conn: Connection, group_id: str) -> list[str]:
    return list(
        conn.execute(
            select(port_sgs.c.port_id).where(port_sgs.c.security_group_id == group_id)
        ).scalars()
    )


# --- rules ---------------------------------------------------------------------------------


def rules_of(conn: Connection, group_ids: list[str]) -> dict[str, list[RowMapping]]:
    """Rules grouped by security group id, for all the given groups in one query."""
    out: dict[str, list[RowMapping]] = defaultdict(list)
    if not group_ids:
        return out
    stmt = select(*RULE_SELECT).order_by(r.security_group_id, r.id)
    if len(group_ids) <= IN_LIMIT:
        stmt = stmt.where(r.security_group_id.in_(group_ids))
    wanted = set(group_ids)
    for row in conn.execute(stmt).mappings():
        if row["security_group_id"] in wanted:
            out[row["security_group_id"]].append(row)
    return out


def find_rule(conn: Connection, rule_id: str) -> RowMapping | None:
    return conn.execute(select(*RULE_SELECT).where(r.id == rule_id)).mappings().first()


def list_rules(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """Rules; a project sees its own rules and every rule of its own groups."""
    scope = None
    if visible_to is not None:
        own_groups = select(g.id).where(g.project_id == visible_to)
        scope = (
            or_(r.project_id == visible_to, r.security_group_id.in_(own_groups))
            if visible_to
            else false()
        )
    stmt = select(*RULE_SELECT)
    return listed(conn, rules, query, RULE_COLUMNS, RULE_HOOKS, "Security group rule", scope, stmt)


def insert_rules(conn: Connection, values: list[dict[str, Any]]) -> None:
    if values:
        conn.execute(insert(rules), values)


def delete_rule(conn: Connection, rule_id: str) -> None:
    conn.execute(delete(rules).where(r.id == rule_id))


# --- default-rule templates ------------------------------------------------------------------


t = templates.c
TEMPLATE_COLUMNS: dict[str, Column] = {
    "id": Column(t.id),
    "description": Column(t.description),
    "direction": Column(t.direction),
    "ethertype": Column(t.ethertype),
    "protocol": Column(t.protocol, nullable_str),
    "port_range_min": Column(t.port_range_min, nullable_int),
    "port_range_max": Column(t.port_range_max, nullable_int),
    "remote_ip_prefix": Column(t.remote_ip_prefix, nullable_str),
    "remote_group_id": Column(t.remote_group_id, nullable_str),
    "used_in_default_sg": Column(t.used_in_default_sg, to_bool),
    "used_in_non_default_sg": Column(t.used_in_non_default_sg, to_bool),
}
TEMPLATE_HOOKS: dict[str, Any] = {"remote_address_group_id": _no_address_group}


def list_templates(conn: Connection, query: ListQuery) -> list[RowMapping]:
    kind = "Default security group rule"
    return listed(conn, templates, query, TEMPLATE_COLUMNS, TEMPLATE_HOOKS, kind)


def templates_for(conn: Connection, default_group: bool) -> list[RowMapping]:
    """The templates a new default (or other) group takes its rules from."""
    flag = t.used_in_default_sg if default_group else t.used_in_non_default_sg
    return list(conn.execute(select(templates).where(flag.is_(True)).order_by(t.id)).mappings())


def all_templates(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(templates).order_by(t.id)).mappings())


def find_template(conn: Connection, template_id: str) -> RowMapping | None:
    return conn.execute(select(templates).where(t.id == template_id)).mappings().first()


def insert_templates(conn: Connection, items: list[tuple[Template, str]]) -> None:
    """Insert (template, id) pairs."""
    if items:
        conn.execute(insert(templates), [template_row(tpl, tpl_id) for tpl, tpl_id in items])


def delete_template(conn: Connection, template_id: str) -> bool:
    return bool(conn.execute(delete(templates).where(t.id == template_id)).rowcount)
