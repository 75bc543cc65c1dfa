"""The change model: what a write records in the change log.

A change is a ``ChangeKind``: a ``Resource`` (its change-log type, its table, the column that
names the network whose hosts it concerns) and an ``Op``. Service code records changes only
through ``Tx.created``, ``Tx.updated`` and ``Tx.deleted`` (``uow``), which take the row itself,
never a project or network id of the caller's choosing:

- ``updated(resource, id, values)`` is the whole write ritual in one statement: it sets
  ``values``, bumps ``revision_number`` and sets ``updated_at`` (on resources that have
  them) and reads the row's project and network back (``RETURNING``), so the record names
  the network whose hosts must wake;
- ``created(resource, row)`` / ``deleted(resource, row)`` take the row as inserted / as it was
  before the delete (a mapping with ``id``, ``project_id`` and the resource's network column).

Caches that read the log declare which kinds invalidate them (``service.changes.Interest``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Op(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    # an agent's report of a port's status (ACTIVE/DOWN) and nothing else: host state does not
    # contain it, so no watch wakes for it (``service.hostsync``); views that show it do
    STATUS = "status"


class Resource(enum.Enum):
    """(change-log type, table, network column or None, has revision_number/updated_at)."""

    NETWORK = ("network", "networks", "id", True)
    SUBNET = ("subnet", "subnets", "network_id", True)
    PORT = ("port", "ports", "network_id", True)
    FLOATINGIP = ("floatingip", "floating_ips", "floating_network_id", True)
    ROUTER = ("router", "routers", None, True)
    SECURITY_GROUP = ("security_group", "security_groups", None, True)
    SECURITY_GROUP_RULE = ("security_group_rule", "security_group_rules", None, True)
    DEFAULT_SECURITY_GROUP_RULE = (
        "default_security_group_rule",
        "default_security_group_rules",
        None,
        False,
    )
    SUBNETPOOL = ("subnetpool", "subnetpools", None, True)
    ADDRESS_SCOPE = ("address_scope", "address_scopes", None, True)
    # its addresses are a child table: a change of them is an update of the group
    ADDRESS_GROUP = ("address_group", "address_groups", None, True)
    # a rule's change is an update of its policy (rules have no revision of their own)
    QOS_POLICY = ("qos_policy", "qos_policies", None, True)
    TRUNK = ("trunk", "trunks", None, True)
    SEGMENT = ("segment", "network_segments", "network_id", True)
    RBAC_POLICY = ("rbac_policy", "rbac_policies", None, False)
    QUOTA = ("quota", "quotas", None, False)  # id "": a project's limits as a whole
    AGENT = ("agent", "agents", None, False)  # no project
    # a router's L3 agents (scheduling) and each one's VRRP state (``ha_state``): no project
    # of its own, no revision; recorded with the router's id
    ROUTER_L3_AGENT = ("router_l3_agent", "router_l3_bindings", None, False)
    # no network column: router-level, like floating IPs' routers (every L3 host checks it)
    PORT_FORWARDING = ("port_forwarding", "port_forwardings", None, False)
    # service flavors and profiles: no project, no revision (Neutron's); a flavor's profile
    # bindings are a child table: binding or unbinding is an update of the flavor
    FLAVOR = ("flavor", "flavors", None, False)
    SERVICE_PROFILE = ("service_profile", "serviceprofiles", None, False)

    # the ids tenant networks draw from; project '' on shared ranges
    NETWORK_SEGMENT_RANGE = ("network_segment_range", "network_segment_ranges", None, True)

    def __init__(self, type_: str, table: str, network_column: str | None, revised: bool) -> None:
        self.type = type_
        self.table = table
        self.network_column = network_column
        self.revised = revised

    @property
    def owned(self) -> bool:
        """Whether its rows have a ``project_id`` (agents and rule templates have none)."""
        return self not in (
            Resource.AGENT,
            Resource.DEFAULT_SECURITY_GROUP_RULE,
            Resource.ROUTER_L3_AGENT,
            Resource.FLAVOR,
            Resource.SERVICE_PROFILE,
        )


@dataclass(frozen=True)
class ChangeKind:
    resource: Resource
    op: Op


ALL_KINDS = frozenset(ChangeKind(r, o) for r in Resource for o in Op)
_BY_NAME = {(k.resource.type, k.op.value): k for k in ALL_KINDS}


def kind_of(resource_type: str, op: str) -> ChangeKind | None:
    """The kind of a logged row; None for a type this code does not know (an older or newer
    server's): callers treat it as invalidating."""
    return _BY_NAME.get((resource_type, op))


def kinds(*resources: Resource, ops: tuple[Op, ...] = tuple(Op)) -> frozenset[ChangeKind]:
    return frozenset(ChangeKind(r, o) for r in resources for o in ops)
