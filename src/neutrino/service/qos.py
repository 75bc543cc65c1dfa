"""QoS policies (``/v2.0/qos/policies``, extensions ``qos``, ``qos-default``): create, show,
list, update, delete; and the attachment of a policy to a network, port or floating IP.

Policy (Neutron's defaults): only an admin creates, changes and deletes policies (and their
rules, ``service.qos_rules``); a project reads its own policies and those shared with it (to
all by ``shared``, or by name with an RBAC policy of object type ``qos_policy``). Anyone may
attach a policy they can see to what they own, and replace or remove only a policy they see
on their network or port.

Invariants:
- at most one ``is_default`` policy per project (409 ``QoSPolicyDefaultAlreadyExists``); a
  network created without ``qos_policy_id`` (and not external) gets its project's default;
- a policy some network, port or floating IP names cannot be deleted (409 ``QosPolicyInUse``);
- every write records a ``qos_policy`` change, rules' writes included (the policy's revision
  moves): agents' host states carry the limits, so those changes wake the hosts.

Races (PostgreSQL): update and delete lock the policy's row (``for_change``/``for_delete``);
an attach share-locks it (``for_use``, ``attach``), so a delete waits for the attaching
transaction and then sees its user. The default's uniqueness is serialized by the project's
``qos_default`` key.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedConflict, NamedForbidden, PolicyNotAuthorized
from neutrino.common.ids import new_id
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import common, policy, rbac, rbac_objects
from neutrino.service import qos_attrs as qa
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import qos as repo
from neutrino.store import rbac as rbac_repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.rbac import SHARED, WILDCARD
from neutrino.store.uow import Store, Tx

SPEC = qa.POLICY_SPEC


def rule_view(row: Any, rule_type: str = qa.BANDWIDTH_LIMIT) -> dict[str, Any]:
    """A rule as its own sub-resource shows it: its id and its type's attributes."""
    return {"id": row["id"], **{f: row[f] for f in qa.KINDS[rule_type].fields}}


def view(row: Any, rules: list[tuple[str, Any]], tags: list[str], shared: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "shared": shared,
        "is_default": bool(row["is_default"]),
        "rules": [
            {**rule_view(r, kind), "qos_policy_id": row["id"], "type": kind} for kind, r in rules
        ],
        **common.standard_view(row, tags),
    }


def render(conn: Any, rows: list[Any], project: str) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    rules, tags = repo.rules_of(conn, ids), tag_repo.tags_of(conn, ids)
    granted = rbac_repo.granted_ids(conn, project, ids)
    return [
        view(
            r,
            rules.get(r["id"], []),
            tags.get(r["id"], []),
            bool(r["shared"]) or r["id"] in granted,
        )
        for r in rows
    ]


def load(conn: Any, ctx: RequestContext, policy_id: str) -> Any:
    """The policy as the caller may see it, else 404 ``QosPolicyNotFound``."""
    return rbac_objects.load(conn, ctx, "qos_policy", policy_id)


def attach(tx: Tx, ctx: RequestContext, policy_id: str | None) -> str | None:
    """Check a ``qos_policy_id`` given for a network, port or floating IP: None detaches;
    otherwise the policy must exist and be visible to the caller. Share-locks its row so a
    concurrent delete sees the new user (see the module docstring)."""
    if policy_id is None:
        return None
    locks.for_use(tx.conn, "qos_policies", policy_id)
    load(tx.conn, ctx, policy_id)
    return policy_id


def replace(tx: Tx, ctx: RequestContext, old: str | None, new: str | None) -> str | None:
    """A network's or port's ``qos_policy_id`` changing from ``old`` to ``new``: the caller
    must see the policy it removes (Neutron: a project cannot drop an admin's private policy
    from its own network, 403 ``PolicyRemoveAuthorizationError``), then ``attach`` the new."""
    if old is not None:
        row = repo.find(tx.conn, old)
        if row is not None and not rbac_objects.visible(tx.conn, ctx, row):
            raise NamedForbidden(
                "PolicyRemoveAuthorizationError",
                f"Failed to remove provided policy {old} because you are not authorized.",
            )
    return attach(tx, ctx, new)


def default_for(conn: Any, project_id: str) -> str | None:
    """The project's default policy id (a new network's when it names none)."""
    row = repo.default_of(conn, project_id)
    return None if row is None else str(row["id"])


class QosPolicyService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, ctx: RequestContext, policy_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [load(conn, ctx, policy_id)], ctx.project_id)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return render(conn, repo.list_rows(conn, query, ctx.list_scope), ctx.project_id)

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        # the body is validated before the policy check (400 before 403), as Neutron does
        parsed = [parse_create(body, SPEC) for body in bodies]
        ctx.require_admin("create_policy")
        for attrs in parsed:
            policy.check_admin_only(ctx, "create_policy", SPEC, attrs)
            attrs["project"] = common.owner_project(ctx, attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]) -> Any:
        ids = []
        for attrs in items:
            policy_id, project = new_id(), attrs["project"]
            if attrs.get("is_default"):
                _check_no_default(tx, project, None)
            row = common.new_row(
                policy_id,
                project,
                attrs,
                shared=bool(attrs.get("shared")),
                is_default=bool(attrs.get("is_default")),
            )
            repo.insert_row(tx.conn, row)
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "qos_policies", policy_id, attrs["tags"])
            if attrs.get("shared"):
                rbac_objects.share_to_all(tx, "qos_policy", policy_id, project)
            tx.created(Resource.QOS_POLICY, row)
            ids.append(policy_id)
        return render(tx.conn, [repo.find(tx.conn, i) for i in ids], ctx.project_id)

    def update(
        self, ctx: RequestContext, policy_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        attrs = parse_update(body, SPEC)  # 400 before 404 and 403, as in Neutron
        if not ctx.is_admin:
            self.get(ctx, policy_id)  # 404 for what the caller cannot see
            raise PolicyNotAuthorized("rule:update_policy")
        return self.store.write(self._update_tx, ctx, policy_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, policy_id: str, attrs: dict[str, Any], if_match: Any
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "qos_policies", policy_id)
        row = load(tx.conn, ctx, policy_id)
        common.check_revision(row["revision_number"], if_match)
        if attrs.get("is_default") and not row["is_default"]:
            _check_no_default(tx, row["project_id"], policy_id)
        if "shared" in attrs and attrs["shared"] != bool(row["shared"]):
            if attrs["shared"]:
                rbac_objects.share_to_all(tx, "qos_policy", policy_id, row["project_id"])
            else:
                rbac_objects.check_removable(tx.conn, "qos_policy", row, WILDCARD)
                rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, policy_id, SHARED, WILDCARD))
        changed = common.changed_attrs(attrs, row, ("name", "description", "shared", "is_default"))
        if changed:
            tx.updated(Resource.QOS_POLICY, policy_id, changed)
        return render(tx.conn, [repo.find(tx.conn, policy_id)], ctx.project_id)[0]

    def delete(self, ctx: RequestContext, policy_id: str, if_match: int | None = None) -> None:
        if not ctx.is_admin:
            self.get(ctx, policy_id)
            raise PolicyNotAuthorized("rule:delete_policy")
        self.store.write(self._delete_tx, ctx, policy_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, policy_id: str, if_match: Any) -> None:
        locks.for_delete(tx.conn, "qos_policies", policy_id)
        row = load(tx.conn, ctx, policy_id)
        common.check_revision(row["revision_number"], if_match)
        user = repo.users(tx.conn, policy_id)
        if user is not None:
            raise qa.in_use(policy_id, *user)
        tx.deleted(Resource.QOS_POLICY, row)
        repo.delete_row(tx.conn, policy_id)
        tag_repo.delete_all(tx.conn, policy_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, policy_id))


def _check_no_default(tx: Tx, project: str, policy_id: str | None) -> None:
    locks.key(tx.conn, f"qos_default:{project}")
    current = repo.default_of(tx.conn, project)
    if current is not None and current["id"] != policy_id:
        raise NamedConflict(
            "QoSPolicyDefaultAlreadyExists",
            f"A default QoS policy exists for project {project}.",
        )
