"""RBAC for subnet pools, address scopes, address groups and QoS policies
(``rbac-subnetpool``, ``rbac-address-scope``, ``rbac-address-group``, object type
``qos_policy``): ``access_as_shared`` only, as for
security groups.

A wildcard policy is what ``shared: true`` means on both; the ``shared`` column mirrors it
(``sync_shared``), kept in the same transaction, so lists need look up only named policies.
A policy's removal is refused (409 ``RbacPolicyInUse``) while the project losing access uses
the object: a subnet of that project carved from the pool, a pool of that project in the
scope, a security-group rule of that project naming the address group, or a network, port or
floating IP of that project using the QoS policy (Neutron's ``get_bound_project_ids``). For
the wildcard (``shared`` back to false) that includes the owner's own users, which no named
policy covers: Neutron refuses that too.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import (
    InvalidInput,
    NamedBadRequest,
    NamedConflict,
    NamedNotFound,
    PolicyNotAuthorized,
    excerpt,
)
from neutrino.common.ids import new_id
from neutrino.service import qos_attrs
from neutrino.service import subnetpool_attrs as spa
from neutrino.service.context import RequestContext
from neutrino.store import address_groups as group_repo
from neutrino.store import qos as qos_repo
from neutrino.store import rbac as repo
from neutrino.store import subnetpools as pool_repo
from neutrino.store.changes import Resource
from neutrino.store.rbac import SHARED, WILDCARD
from neutrino.store.uow import Tx

TABLES = {  # in the lock order
    "subnetpool": "subnetpools",
    "address_scope": "address_scopes",
    "address_group": "address_groups",
    "qos_policy": "qos_policies",
}
RESOURCES = {
    "address_group": Resource.ADDRESS_GROUP,
    "subnetpool": Resource.SUBNETPOOL,
    "address_scope": Resource.ADDRESS_SCOPE,
    "qos_policy": Resource.QOS_POLICY,
}


def find(conn: Any, object_type: str, object_id: str) -> Any:
    if object_type == "address_group":
        return group_repo.find(conn, object_id)
    if object_type == "subnetpool":
        return pool_repo.find(conn, object_id)
    if object_type == "qos_policy":
        return qos_repo.find(conn, object_id)
    return pool_repo.find_scope(conn, object_id)


def visible(conn: Any, ctx: RequestContext, row: Any) -> bool:
    """An object of these types is seen by its project, an admin, and a caller with a project
    when it is shared to all or to that project."""
    return ctx.can_see(
        row["project_id"],
        public=bool(row["shared"]) or bool(repo.granted_ids(conn, ctx.project_id, [row["id"]])),
    )


def not_found(object_type: str, object_id: str) -> NamedNotFound:
    """The 404 for an object the caller cannot see (or that does not exist)."""
    if object_type == "address_group":
        return NamedNotFound(
            "AddressGroupNotFound", f"Address group {excerpt(object_id)} could not be found."
        )
    if object_type == "subnetpool":
        return spa.pool_not_found(object_id)
    if object_type == "qos_policy":
        return qos_attrs.policy_not_found(object_id)
    return spa.scope_not_found(object_id)


def load(conn: Any, ctx: RequestContext, object_type: str, object_id: str, action: str = "") -> Any:
    """The object if the caller sees it, else its 404; with ``action`` (a write), 403 unless
    the caller owns it: an object only shared to its project is not its to change."""
    row = None if "\x00" in object_id else find(conn, object_type, object_id)
    if row is None or not visible(conn, ctx, row):
        raise not_found(object_type, object_id)
    if action and not ctx.owns(row["project_id"]):
        raise PolicyNotAuthorized(f"rule:{action}")
    return row


def owned_object(conn: Any, ctx: RequestContext, object_type: str, object_id: str) -> Any:
    """The policy's object, which the caller must see and, unless admin, own."""
    row = load(conn, ctx, object_type, object_id)
    if not ctx.owns(row["project_id"]):
        raise InvalidInput("Only admins can manipulate policies on objects they do not own")
    return row


def users(conn: Any, object_type: str, object_id: str) -> set[str]:
    if object_type == "address_group":
        return group_repo.rule_projects(conn, object_id)
    if object_type == "subnetpool":
        return pool_repo.subnet_projects(conn, object_id)
    if object_type == "qos_policy":
        return qos_repo.user_projects(conn, object_id)
    return pool_repo.scope_pool_projects(conn, object_id)


def check_removable(conn: Any, object_type: str, row: Any, target: str) -> None:
    owner = row["project_id"]
    if target == owner:
        return
    remaining = repo.targets(conn, row["id"], SHARED) - {target}
    if target != WILDCARD and WILDCARD in remaining:
        return
    # Neutron's check for the wildcard: every project using the object must keep a policy
    # naming it; the owner has none, so its own subnets, pools or networks count too
    allowed = remaining - {WILDCARD}
    using = users(conn, object_type, row["id"])
    if ({target} & using) if target != WILDCARD else (using - allowed):
        raise NamedConflict(
            "RbacPolicyInUse",
            f"RBAC policy on object {row['id']} cannot be removed because other objects "
            f"depend on it.\nDetails: tenant_id={target}",
        )


def sync_shared(tx: Tx, object_type: str, row: Any) -> bool:
    """Mirror the wildcard policy into ``shared`` (a change of the object: its revision
    moves and the log records it); True when it changed."""
    shared = WILDCARD in repo.targets(tx.conn, row["id"], SHARED)
    if shared == bool(row["shared"]):
        return False
    tx.updated(RESOURCES[object_type], row["id"], {"shared": shared})
    return True


def share_to_all(tx: Tx, object_type: str, object_id: str, project: str) -> None:
    """``shared: true`` on a pool, scope or QoS policy: its wildcard policy, owned by its
    project."""
    if repo.find_by(tx.conn, object_id, SHARED, WILDCARD) is not None:
        return
    policy_id = new_id()
    repo.insert_row(
        tx.conn,
        {
            "id": policy_id,
            "project_id": project,
            "object_type": object_type,
            "object_id": object_id,
            "action": SHARED,
            "target_project": WILDCARD,
        },
    )
    tx.created(Resource.RBAC_POLICY, policy_id)


def check_create(conn: Any, object_type: str, row: Any, target: str) -> None:
    """Neutron refuses to share a pool tied to an address scope with a project the scope is
    not shared with (by name or to all)."""
    scope_id = row["address_scope_id"] if object_type == "subnetpool" else None
    if scope_id is None:
        return
    if not repo.targets(conn, scope_id, SHARED) & {target, WILDCARD}:
        raise NamedBadRequest(
            "RbacPolicyInitError",
            f"Failed to create RBAC policy on object {row['id']} because target project "
            f"doesn't have access to associated address scope.",
        )
