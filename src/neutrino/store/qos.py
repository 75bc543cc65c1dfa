"""QoS policies, their rules (a table per rule type), and who uses a policy.

A project sees its own policies, those shared to all (``shared``, the mirror of the wildcard
RBAC policy) and those an RBAC policy shares to it by name (``granted_clause``), as for subnet
pools. Lists are one query for the policies plus one for the rules of the listed policies.

Who uses a policy (``users``): networks, ports and floating IPs naming it in their
``qos_policy_id``; the delete of a policy reads them after locking the policy's row, and an
attach locks the row ``for_use`` first (``service.qos``), so a delete never misses a user.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    RowMapping,
    Table,
    delete,
    insert,
    select,
    update,
)

from neutrino.domain.attributes import to_bool, to_int
from neutrino.domain.listing import ListQuery
from neutrino.store import raw
from neutrino.store.models import Network, Port
from neutrino.store.models_l3 import FloatingIp
from neutrino.store.models_qos import (
    QosBandwidthLimitRule,
    QosDscpMarkingRule,
    QosMinimumBandwidthRule,
    QosMinimumPacketRateRule,
    QosPolicy,
)
from neutrino.store.query import Column, listed, standard_columns
from neutrino.store.rbac import shared_scope
from neutrino.store.tags import tag_filters
from neutrino.store.timestamps import changed_since_filter

policies = QosPolicy.__table__
rules = QosBandwidthLimitRule.__table__
q = policies.c
r = rules.c
# rule type -> its table (Neutron's rule types that have rules here)
RULE_TABLES: dict[str, Table] = {
    "bandwidth_limit": rules,
    "dscp_marking": QosDscpMarkingRule.__table__,
    "minimum_bandwidth": QosMinimumBandwidthRule.__table__,
    "minimum_packet_rate": QosMinimumPacketRateRule.__table__,
}

COLUMNS: dict[str, Column] = {
    **standard_columns(policies),
    "shared": Column(q.shared, to_bool),
    "is_default": Column(q.is_default, to_bool),
}
HOOKS: dict[str, Any] = {**tag_filters(policies), **changed_since_filter(policies)}


def _rule_columns(table: Table) -> dict[str, Column]:
    """A rule table's filters and sort keys: every column but the policy's id (the path's)."""
    return {
        c.name: Column(c, to_int) if isinstance(c.type, Integer) else Column(c)
        for c in table.c
        if c.name != "qos_policy_id"
    }


RULE_COLUMNS: dict[str, dict[str, Column]] = {k: _rule_columns(t) for k, t in RULE_TABLES.items()}
RULE_HOOKS: dict[str, Any] = {}
# the filters of ``/v2.0/qos/policies/{id}/{rule_kind}`` in the OpenAPI document: every kind's
# (a kind refuses another's with a 400)
ANY_RULE_COLUMNS: dict[str, Column] = {
    name: column for columns in RULE_COLUMNS.values() for name, column in columns.items()
}

NETWORK_OWNED = "network:%"  # a bound parameter, never SQL text (psycopg reads % itself)

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
    scope = shared_scope(policies, visible_to)
    return listed(conn, policies, query, COLUMNS, HOOKS, "QoS policy", scope)


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(policies).values(**values))


def delete_row(conn: Connection, policy_id: str) -> None:
    """Delete a policy; its rules go with it (ON DELETE CASCADE, and explicitly for SQLite
    connections without foreign keys)."""
    for table in RULE_TABLES.values():
        conn.execute(delete(table).where(table.c.qos_policy_id == policy_id))
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


def rules_of(conn: Connection, policy_ids: list[str]) -> dict[str, list[tuple[str, RowMapping]]]:
    """Policy id -> its rules as (rule type, row), by type then direction then id."""
    out: dict[str, list[tuple[str, RowMapping]]] = defaultdict(list)
    if not policy_ids:
        return out
    for rule_type, table in RULE_TABLES.items():
        stmt = select(table).order_by(*[c for c in table.c if c.name == "direction"], table.c.id)
        if len(policy_ids) <= 500:
            stmt = stmt.where(table.c.qos_policy_id.in_(policy_ids))
        for row in conn.execute(stmt).mappings():
            out[row["qos_policy_id"]].append((rule_type, row))
    return out


def find_rule(conn: Connection, rule_type: str, rule_id: str) -> RowMapping | None:
    table = RULE_TABLES[rule_type]
    return conn.execute(select(table).where(table.c.id == rule_id)).mappings().first()


def list_rules(
    conn: Connection, rule_type: str, policy_id: str, query: ListQuery
) -> list[RowMapping]:
    table, columns = RULE_TABLES[rule_type], RULE_COLUMNS[rule_type]
    scope = table.c.qos_policy_id == policy_id
    return listed(conn, table, query, columns, RULE_HOOKS, "QoS rule", scope)


def policy_rules(conn: Connection, rule_type: str, policy_id: str) -> list[RowMapping]:
    table = RULE_TABLES[rule_type]
    stmt = select(table).where(table.c.qos_policy_id == policy_id).order_by(table.c.id)
    return list(conn.execute(stmt).mappings())


def insert_rule(conn: Connection, rule_type: str, values: dict[str, Any]) -> None:
    conn.execute(insert(RULE_TABLES[rule_type]).values(**values))


def update_rule(conn: Connection, rule_type: str, rule_id: str, values: dict[str, Any]) -> None:
    table = RULE_TABLES[rule_type]
    conn.execute(update(table).where(table.c.id == rule_id).values(**values))


def delete_rule(conn: Connection, rule_type: str, rule_id: str) -> None:
    table = RULE_TABLES[rule_type]
    conn.execute(delete(table).where(table.c.id == rule_id))


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


def port_dscp_marks(conn: Connection, port_ids: Sequence[str]) -> dict[str, int]:
    """Port id -> the DSCP mark of its effective policy (the port's own, else its network's
    unless the network owns the port: the rule ``bandwidth_limits`` of ``store.hostsync``
    follows), for the ports that have one (host state, one query)."""
    # raw (``store.raw``): it runs for every port change a host's state is built for, and
    # the Core statement cost ~0.9 ms to build and compile each time; this one ~20 µs
    ids = sorted(set(port_ids))
    table = RULE_TABLES["dscp_marking"].name
    rows = raw.rows_in(
        conn,
        f"SELECT p.id, d.dscp_mark FROM ports p JOIN networks n ON n.id = p.network_id "
        f"JOIN {table} d ON d.qos_policy_id = COALESCE(p.qos_policy_id, "
        f"CASE WHEN p.device_owner LIKE ? THEN NULL ELSE n.qos_policy_id END) "
        f"WHERE p.id IN ({{ids}})",
        ids,
        (NETWORK_OWNED, *ids),
    )
    return {pid: mark for pid, mark in rows}


# --- what placement is asked (service.port_resources) ----------------------------------------


def any_rules(conn: Connection, rule_types: list[str]) -> bool:
    """Whether any policy has a rule of these types (one cheap query each)."""
    for rule_type in rule_types:  # raw: asked on every port create (``store.raw``)
        if raw.one(conn, f"SELECT 1 FROM {RULE_TABLES[rule_type].name} LIMIT 1") is not None:
            return True
    return False


def network_policies(conn: Connection, network_ids: set[str]) -> dict[str, tuple[Any, Any]]:
    """Network id -> (its qos_policy_id, its first segment's physical network)."""
    n = Network.__table__.c
    out: dict[str, tuple[Any, Any]] = {}
    ids = sorted(network_ids)
    for start in range(0, len(ids), 500):
        stmt = select(n.id, n.qos_policy_id, n.physical_network).where(
            n.id.in_(ids[start : start + 500])
        )
        out.update((nid, (policy, physnet)) for nid, policy, physnet in conn.execute(stmt))
    return out


def rules_by_policy(
    conn: Connection, rule_type: str, policy_ids: set[str]
) -> dict[str, list[RowMapping]]:
    """Policy id -> its rules of ``rule_type``, by id."""
    out: dict[str, list[RowMapping]] = defaultdict(list)
    if not policy_ids:
        return out
    table = RULE_TABLES[rule_type]
    stmt = select(table).where(table.c.qos_policy_id.in_(sorted(policy_ids)))
    for row in conn.execute(stmt.order_by(table.c.id)).mappings():
        out[row["qos_policy_id"]].append(row)
    return out
