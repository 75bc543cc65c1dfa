"""RBAC policies (``/v2.0/rbac-policies``): who else may use a network.

A policy grants ``target_tenant`` (one project, or ``*`` for all) an action on one network:
``access_as_shared`` (see it, its subnets, and put ports on it) or ``access_as_external`` (see
it and use it as a router gateway or floating-IP pool). As in Neutron, a network's ``shared``
is the derived view of a wildcard ``access_as_shared`` policy (shown true also to a project the
network is shared to by name), and ``router:external`` is true while any ``access_as_external``
policy exists: creating one makes the network external, deleting the last makes it internal.
The wildcard policies are mirrored by the ``shared`` and ``router_external`` columns, kept in
the same transaction (``sync_flags``), so list queries need only look up named policies.

Subnet pools and address scopes (``rbac-subnetpool``, ``rbac-address-scope``) work like
security groups; what is specific to them lives in ``service.rbac_objects``.

Security groups (``rbac-security-groups``) take ``access_as_shared`` only: the target project
sees the group (``shared: true`` to it) and may bind its ports to it, but not change it (403);
removal is refused while a port of the target uses the group (409 ``RbacPolicyInUse``).

Who may: a policy is its owner's (or an admin's) to see, change and delete; anyone else gets
404. Only an admin may share to ``*`` (403 otherwise, Neutron's ``restrict_wildcard``), and
only the network's owner or an admin may make a policy on it (400 ``InvalidInput``).

Removal (a delete, or an update moving the target) is refused while the project losing access
depends on it: with ports on the network for ``access_as_shared`` (409
``InvalidSharedSetting``), with a router gatewayed on it for ``access_as_external`` (409
``RbacPolicyInUse``); another policy still granting the access (the wildcard, or the project
by name) lets it go. The owner's own ports never depend on a policy.

Locks (PostgreSQL): every write locks the network row (``for_change``), or the group row
(``for_delete``, which waits for the ports binding it), before it reads the policies or the
ports, the same row a port create locks first: a port create by the target
project and the removal of its access are serialized, and the second sees the first's commit
(the port create then answers 404, or the removal 409). A create takes the owner's
``rbac_policy`` quota key before that.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import (
    BadRequest,
    InvalidInput,
    NamedConflict,
    NamedNotFound,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain import security_groups as sgd
from neutrino.domain.attributes import Attr, parse_create, parse_update, project_id, string, uuid
from neutrino.domain.listing import ListQuery
from neutrino.service import rbac_objects
from neutrino.service.common import owner_project, per_project
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import rbac as repo
from neutrino.store import security_groups as group_repo
from neutrino.store.changes import Resource
from neutrino.store.rbac import EXTERNAL, SHARED, WILDCARD
from neutrino.store.uow import Store, Tx

# object type -> its actions, as Neutron lists them; the table each object lives in
ACTIONS = {
    "network": (EXTERNAL, SHARED),
    "security_group": (SHARED,),
    "subnetpool": (SHARED,),
    "address_scope": (SHARED,),
    "address_group": (SHARED,),
    "qos_policy": (SHARED,),
}
# in lock order (see store.locks)
TABLES = {"network": "networks", **rbac_objects.TABLES, "security_group": "security_groups"}
SPEC: dict[str, Attr] = {
    "object_type": Attr(string(255), allow_put=False, required=True),
    "object_id": Attr(uuid, allow_put=False, required=True),
    "action": Attr(string(255), allow_put=False, required=True),
    "target_tenant": Attr(string(255)),
    "target_project": Attr(string(255)),
    "project_id": Attr(project_id, allow_put=False),
    "tenant_id": Attr(project_id, allow_put=False),
}


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "tenant_id": row["project_id"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "action": row["action"],
        "target_tenant": row["target_project"],
    }


def _target(attrs: dict[str, Any], required: bool) -> str | None:
    given = [attrs[k] for k in ("target_tenant", "target_project") if k in attrs]
    if len(set(given)) > 1:
        raise BadRequest("Both target_tenant and target_project were specified and do not match.")
    if not given:
        if required:
            raise BadRequest(
                "Failed to parse request. Required attribute 'target_tenant' not specified"
            )
        return None
    if "\x00" in given[0] or not given[0]:
        raise BadRequest(
            f"Invalid input for target_tenant. Reason: '{given[0]}' is not a valid project id."
        )
    return str(given[0])


def _not_found(policy_id: str) -> NamedNotFound:
    return NamedNotFound(
        "RbacPolicyNotFound", f"RBAC policy of type unknown with ID {policy_id} not found"
    )


class RbacService:
    def __init__(self, store: Store, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas

    # --- reads

    def _load(
        self, conn: Any, ctx: RequestContext, policy_id: str, *, for_update: bool = False
    ) -> Any:
        row = None if "\x00" in policy_id else repo.find(conn, policy_id, for_update=for_update)
        if row is None or not ctx.owns(row["project_id"]):
            raise _not_found(policy_id)
        return row

    def get(self, ctx: RequestContext, policy_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return view(self._load(conn, ctx, policy_id))

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        if any("\x00" in str(v) for values in query.filters.values() for v in values):
            return []  # no policy holds a NUL (and PostgreSQL refuses to compare one)
        with self.store.read() as conn:
            return [view(r) for r in repo.list_rows(conn, query, ctx.list_scope)]

    # --- create

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_rbac_policy")
        parsed = [self._parse_create(ctx, b) for b in bodies]
        return self.store.write(self._create_tx, ctx, parsed)

    def _parse_create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = parse_create(body, SPEC)
        attrs["target"] = _target(attrs, required=True)
        object_type, action = attrs["object_type"], attrs["action"]
        if object_type not in ACTIONS:
            raise BadRequest(
                f"Invalid input for object_type. Reason: '{object_type}' is not "
                f"in {sorted(ACTIONS)}."
            )
        if action not in ACTIONS[object_type]:
            raise NamedBadRequestType(action, object_type)
        if attrs["target"] == WILDCARD and not ctx.is_admin:
            raise PolicyNotAuthorized(
                "rule:create_rbac_policy and rule:create_rbac_policy:target_tenant"
            )
        attrs["project"] = owner_project(ctx, attrs)
        return attrs

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for project, count in per_project(ctx, items):
            self.quotas.check(tx, project, "rbac_policy", count)
        for kind in TABLES:  # in the lock order
            ids = [a["object_id"] for a in items if a["object_type"] == kind]
            locks.for_change(tx.conn, TABLES[kind], *ids)
        created = []
        for attrs in items:
            net = self._object(tx.conn, ctx, attrs["object_type"], attrs["object_id"])
            if attrs["object_type"] in rbac_objects.TABLES:
                rbac_objects.check_create(tx.conn, attrs["object_type"], net, attrs["target"])
            if repo.find_by(tx.conn, net["id"], attrs["action"], attrs["target"]) is not None:
                raise NamedConflict(
                    "DuplicateRbacPolicy", "An RBAC policy already exists with those values."
                )
            policy_id = new_id()
            repo.insert_row(
                tx.conn,
                {
                    "id": policy_id,
                    "project_id": attrs["project"],
                    "object_type": attrs["object_type"],
                    "object_id": net["id"],
                    "action": attrs["action"],
                    "target_project": attrs["target"],
                },
            )
            sync_flags(tx, attrs["object_type"], net)
            tx.created(Resource.RBAC_POLICY, policy_id)
            created.append(view(repo.find(tx.conn, policy_id)))
        return created

    def _object(self, conn: Any, ctx: RequestContext, object_type: str, object_id: str) -> Any:
        """The policy's object, which the caller must see and, unless admin, own."""
        if object_type in rbac_objects.TABLES:
            return rbac_objects.owned_object(conn, ctx, object_type, object_id)
        if object_type == "security_group":
            group = group_repo.find_group(conn, object_id)
            if group is None or not (
                ctx.owns(group["project_id"]) or repo.granted_ids(conn, ctx.project_id, [object_id])
            ):
                raise sgd.SecurityGroupNotFound(object_id)
            if not ctx.owns(group["project_id"]):
                raise InvalidInput("Only admins can manipulate policies on objects they do not own")
            return group
        network_id = object_id
        row = network_repo.find(conn, network_id)
        if row is None or not ctx.can_see(
            row["project_id"], public=network_visible(conn, ctx, row)
        ):
            raise ResourceNotFound("Network", network_id)
        if not ctx.owns(row["project_id"]):
            raise InvalidInput("Only admins can manipulate policies on networks they do not own")
        return row

    # --- update

    def update(
        self, ctx: RequestContext, policy_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_rbac_policy", lambda: self.get(ctx, policy_id))
        attrs = parse_update(body, SPEC)
        target = _target(attrs, required=False)
        if target == WILDCARD and not ctx.is_admin:
            raise PolicyNotAuthorized(
                "rule:update_rbac_policy and rule:update_rbac_policy:target_tenant"
            )
        return self.store.write(self._update_tx, ctx, policy_id, target)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, policy_id: str, target: str | None
    ) -> dict[str, Any]:
        row = self._locked(tx, ctx, policy_id)
        if target is not None and target != row["target_project"]:
            net = self._object(tx.conn, ctx, row["object_type"], row["object_id"])
            if repo.find_by(tx.conn, net["id"], row["action"], target) is not None:
                raise NamedConflict(
                    "DuplicateRbacPolicy", "An RBAC policy already exists with those values."
                )
            if target != WILDCARD and row["object_type"] in rbac_objects.TABLES:
                rbac_objects.check_removable(
                    tx.conn, row["object_type"], net, row["target_project"]
                )
            elif target != WILDCARD:
                check_removable(
                    tx.conn, row["object_type"], net, row["action"], row["target_project"], target
                )
            repo.set_target(tx.conn, policy_id, target)
            sync_flags(tx, row["object_type"], net)
            tx.updated(Resource.RBAC_POLICY, row)
        return view(repo.find(tx.conn, policy_id))

    # --- delete

    def delete(self, ctx: RequestContext, policy_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_rbac_policy", lambda: self.get(ctx, policy_id))
        self.store.write(self._delete_tx, ctx, policy_id)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, policy_id: str) -> None:
        row = self._locked(tx, ctx, policy_id)
        kind = row["object_type"]
        if kind in rbac_objects.TABLES:
            net = rbac_objects.find(tx.conn, kind, row["object_id"])
            rbac_objects.check_removable(tx.conn, kind, net, row["target_project"])
        else:
            net = (
                network_repo.get(tx.conn, row["object_id"])
                if kind == "network"
                else group_repo.find_group(tx.conn, row["object_id"])
            )
            check_removable(tx.conn, kind, net, row["action"], row["target_project"], None)
        tx.deleted(Resource.RBAC_POLICY, row)
        repo.delete_row(tx.conn, policy_id)
        sync_flags(tx, kind, net)

    def _locked(self, tx: Tx, ctx: RequestContext, policy_id: str) -> Any:
        """The policy, after its object's row lock (the lock order: objects first). A group is
        locked as for a delete: that waits for the ports binding it (they take ``for_use``)."""
        row = self._load(tx.conn, ctx, policy_id)
        if row["object_type"] == "network":
            locks.for_change(tx.conn, "networks", row["object_id"])
        elif row["object_type"] in rbac_objects.TABLES:
            locks.for_change(tx.conn, rbac_objects.TABLES[row["object_type"]], row["object_id"])
        else:
            locks.for_delete(tx.conn, "security_groups", row["object_id"])
        return self._load(tx.conn, ctx, policy_id, for_update=locks.enabled(tx.conn))


class NamedBadRequestType(BadRequest):
    neutron_type = "InvalidActionForType"

    def __init__(self, action: str, object_type: str) -> None:
        super().__init__(
            f"Invalid action '{action}' for object type '{object_type}'. Valid "
            f"actions: {list(ACTIONS[object_type])}"
        )


def access(conn: Any, ctx: RequestContext, network_id: str, shared: bool) -> tuple[bool, bool]:
    """What the policies grant the caller's project on a network it may not own: (visible,
    shared to it). ``shared`` is the network's column (the wildcard share)."""
    if shared:
        return True, True
    actions = repo.actions_for(conn, network_id, ctx.project_id)
    return bool(actions), SHARED in actions


def network_visible(conn: Any, ctx: RequestContext, row: Any) -> bool:
    """Whether a policy makes the network visible to the caller's project (beyond owning)."""
    return access(conn, ctx, row["id"], bool(row["shared"]))[0]


def shared_with(conn: Any, ctx: RequestContext, row: Any) -> bool:
    """Neutron's ``shared`` as the caller sees it: shared to all, or to its project."""
    return access(conn, ctx, row["id"], bool(row["shared"]))[1]


def check_removable(
    conn: Any, object_type: str, net: Any, action: str, target: str, new_target: str | None
) -> None:
    """Refuse to take ``action`` away from ``target`` while a project depends on it."""
    owner = net["project_id"]
    if target == owner:
        return  # the owner never needs a policy
    remaining = repo.targets(conn, net["id"], action) - {target}
    if target != WILDCARD and WILDCARD in remaining:
        return
    allowed = (remaining - {WILDCARD}) | {owner}
    if object_type == "security_group":  # Neutron's generic check: the ports using the group
        users = repo.group_port_projects(conn, net["id"])
        if ({target} & users) if target != WILDCARD else (users - allowed):
            raise NamedConflict(
                "RbacPolicyInUse",
                f"RBAC policy on object {net['id']} cannot be removed because other objects "
                f"depend on it.\nDetails: tenant_id={target}",
            )
        return
    if action == SHARED:
        users = repo.port_projects(conn, net["id"])
        losing = {target} & users if target != WILDCARD else users - allowed
        if losing:
            raise NamedConflict(
                "InvalidSharedSetting",
                f"Unable to reconfigure sharing settings for network {net['id']}. Multiple "
                f"tenants are using it.",
            )
        return
    if target == WILDCARD and net["is_default"]:
        raise NamedConflict(
            "RbacPolicyInUse",
            f"RBAC policy on object {net['id']} cannot be "
            f"removed because other objects depend on it.\nDetails: Default "
            f"external networks must be shared to everyone.",
        )
    users = repo.gateway_projects(conn, net["id"])
    losing = (
        {target} & users
        if target != WILDCARD
        else users - allowed - ({new_target} if new_target else set())
    )
    if losing:
        raise NamedConflict(
            "RbacPolicyInUse",
            f"RBAC policy on object {net['id']} cannot be "
            f"removed because other objects depend on it.\nDetails: There are "
            f"routers attached to this network that depend on this policy for "
            f"access.",
        )


def sync_flags(tx: Tx, object_type: str, net: Any) -> None:
    """Mirror the wildcard shared policy into ``shared`` and the existence of any external
    policy into ``router_external``; a change of either bumps the network's revision (as
    Neutron's RBAC changes do: the network's view changed). Groups have no such columns."""
    if object_type in rbac_objects.TABLES:
        rbac_objects.sync_shared(tx, object_type, net)
    if object_type != "network":
        return
    shared = WILDCARD in repo.targets(tx.conn, net["id"], SHARED)
    external = bool(repo.targets(tx.conn, net["id"], EXTERNAL))
    tx.updated(Resource.NETWORK, net["id"], {"shared": shared, "router_external": external})


def attach_wildcards(
    tx: Tx, network_id: str, project: str, *, shared: bool | None, external: bool | None
) -> None:
    """The network API's side of the policies: ``shared``/``router:external`` set true add the
    wildcard policy (owned by the network's project), set false remove it."""
    for action, wanted in ((SHARED, shared), (EXTERNAL, external)):
        if wanted is None:
            continue
        present = repo.find_by(tx.conn, network_id, action, WILDCARD)
        if wanted and present is None:
            policy_id = new_id()
            repo.insert_row(
                tx.conn,
                {
                    "id": policy_id,
                    "project_id": project,
                    "object_type": "network",
                    "object_id": network_id,
                    "action": action,
                    "target_project": WILDCARD,
                },
            )
            tx.created(Resource.RBAC_POLICY, policy_id)
        elif not wanted and present is not None:
            # ``router:external`` false drops every external policy, not only the wildcard
            gone = (
                repo.delete_for(tx.conn, network_id, EXTERNAL)
                if action == EXTERNAL
                else [(present["id"], present["project_id"])]
            )
            if action != EXTERNAL:
                repo.delete_row(tx.conn, present["id"])
            record_deleted(tx, gone)


def record_deleted(tx: Tx, policies: list[tuple[str, str]]) -> None:
    """Log the deletes of policies removed with their object (or by a ``shared`` toggle)."""
    for policy_id, owner in policies:
        tx.deleted(Resource.RBAC_POLICY, {"id": policy_id, "project_id": owner})
