"""QoS policies, their bandwidth-limit rules, and who uses a policy.

A project sees its own policies, those shared to all (``shared``, the mirror of the wildcard
RBAC policy) and those an RBAC policy shares to it by name (``granted_clause``), as for subnet
pools. Lists are one query for the policies plus one for the rules of the listed policies.

Who uses a policy (``users``): networks, ports and floating IPs naming it in their
``qos_policy_id``; the delete of a policy reads them after locking the policy's row, and an
attach locks the row ``for_use`` first (``service.qos``), so a delete never misses a user.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, false, insert, or_, select, update

from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store.models import Network, Port
from neutrino.store.models_l3 import FloatingIp
from neutrino.store.models_qos import QosBandwidthLimitRule, QosPolicy
from neutrino.store.query import Column, check_keys, compile_list, standard_columns
from neutrino.store.rbac import granted_clause
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

policies = QosPolicy.__table__
rules = QosBandwidthLimitRule.__table__
q = policies.c
r = rules.c

COLUMNS: dict[str, Column] = {
    **standard_columns(policies),
    "shared": Column(q.shared, to_bool),
    "is_default": Column(q.is_default, to_bool),
}
HOOKS: dict[str, Any] = {**tag_filters(policies), **changed_since_filter(policies)}

RULE_COLUMNS: dict[str, Column] = {
    "id": Column(r.id),
    "max_kbps": Column(r.max_kbps, to_int),
    "max_burst_kbps": Column(r.max_burst_kbps, to_int),
    "direction": Column(r.direction),
}
RULE_HOOKS: dict[str, Any] = {}

# table -> the wire name Neutron's QosPolicyInUse gives it
USERS = (
    (Network.__table__, "network"),
    (Port.__table__, "port"),
    (FloatingIp.__table__, "floatingip"),
)


def find(conn: Connection, policy_id: str) -> RowMapping | None:
    return conn.execute(select(policies).where(q.id == policy_id)).mappings().first()


def list_rows(conn: Connection, query: ListQuery, visible_to: str | None) -> list[RowMapping]:
    """``visible_to`` None: every policy (an admin); "" none (unscoped)."""
    check_keys(query, COLUMNS, HOOKS)
    stmt = select(policies)
    if visible_to is not None:
        stmt = stmt.where(
            or_(
                q.project_id == visible_to,
                q.shared.is_(True),
                granted_clause(q.id, visible_to),
            )
            if visible_to
            else false()
        )
    stmt = compile_list(conn, stmt, policies, query, COLUMNS, HOOKS, kind="QoS policy")
    return list(conn.execute(stmt).mappings())


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(policies).values(**values))


def delete_row(conn: Connection, policy_id: str) -> None:
    """Delete a policy; its rules go with it (ON DELETE CASCADE, and explicitly for SQLite
    connections without foreign keys)."""
    conn.execute(delete(rules).where(r.qos_policy_id == policy_id))
    conn.execute(delete(policies).where(q.id == policy_id))


def default_of(conn: Connection, project_id: str) -> RowMapping | None:
    stmt = select(policies).where(q.project_id == project_id, q.is_default.is_(True))
    return conn.execute(stmt.order_by(q.id)).mappings().first()


def users(conn: Connection, policy_id: str) -> tuple[str, str] | None:
    """(object type, id) of one network, port or floating IP using the policy, or None."""
    for table, kind in USERS:
        stmt = select(table.c.id).where(table.c.qos_policy_id == policy_id).order_by(table.c.id)
        found = conn.execute(stmt.limit(1)).scalar()
        if found is not None:
            return kind, found
    return None


def user_projects(conn: Connection, policy_id: str) -> set[str]:
    """The projects whose networks, ports or floating IPs use the policy (RBAC removal)."""
    out: set[str] = set()
    for table, _ in USERS:
        stmt = select(table.c.project_id).distinct().where(table.c.qos_policy_id == policy_id)
        out |= set(conn.execute(stmt).scalars())
    return out


# --- rules -----------------------------------------------------------------------------------


def rules_of(conn: Connection, policy_ids: list[str]) -> dict[str, list[RowMapping]]:
    out: dict[str, list[RowMapping]] = defaultdict(list)
    if not policy_ids:
        return out
    stmt = select(rules).order_by(r.direction, r.id)
    if len(policy_ids) <= 500:
        stmt = stmt.where(r.qos_policy_id.in_(policy_ids))
    for row in conn.execute(stmt).mappings():
        out[row["qos_policy_id"]].append(row)
    return out


def find_rule(conn: Connection, rule_id: str) -> RowMapping | None:
    return conn.execute(select(rules).where(r.id == rule_id)).mappings().first()


def list_rules(conn: Connection, policy_id: str, query: ListQuery) -> list[RowMapping]:
    check_keys(query, RULE_COLUMNS, RULE_HOOKS)
    stmt = select(rules).where(r.qos_policy_id == policy_id)
    stmt = compile_list(conn, stmt, rules, query, RULE_COLUMNS, RULE_HOOKS, kind="QoS rule")
    return list(conn.execute(stmt).mappings())


def rule_in_direction(conn: Connection, policy_id: str, direction: str) -> RowMapping | None:
    stmt = select(rules).where(r.qos_policy_id == policy_id, r.direction == direction)
    return conn.execute(stmt).mappings().first()


def insert_rule(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(rules).values(**values))


def update_rule(conn: Connection, rule_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(rules).where(r.id == rule_id).values(**values))


def delete_rule(conn: Connection, rule_id: str) -> None:
    conn.execute(delete(rules).where(r.id == rule_id))


# --- what the agents are told ----------------------------------------------------------------


def floatingip_limits(
    conn: Connection, fip_ids: list[str]
) -> dict[str, list[tuple[str, int, int]]]:
    """Floating IP id -> [(direction, max_kbps, max_burst_kbps)] of its policy (one query)."""
    out: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    if not fip_ids:
        return out
    f = FloatingIp.__table__.c
    stmt = (
        select(f.id, r.direction, r.max_kbps, r.max_burst_kbps)
        .join(rules, r.qos_policy_id == f.qos_policy_id)
        .where(f.id.in_(sorted(set(fip_ids))))
        .order_by(f.id, r.direction)
    )
    for fid, direction, kbps, burst in conn.execute(stmt):
        out[fid].append((direction, kbps, burst))
    return out


def limits_of(conn: Connection, policy_ids: list[str]) -> dict[str, list[tuple[str, int, int]]]:
    """Policy id -> [(direction, max_kbps, max_burst_kbps)] (host state, one query)."""
    out: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    if not policy_ids:
        return out
    stmt = select(r.qos_policy_id, r.direction, r.max_kbps, r.max_burst_kbps).where(
        r.qos_policy_id.in_(sorted(set(policy_ids)))
    )
    for pid, direction, kbps, burst in conn.execute(stmt.order_by(r.direction)):
        out[pid].append((direction, kbps, burst))
    return out
