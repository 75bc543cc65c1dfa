"""Address scopes (``/v2.0/address-scopes``, extension ``address-scope``): create, show,
list, update, delete. A scope groups subnet pools of one ip_version whose prefixes must not
overlap (checked when a pool joins, ``service.subnetpools``); a network's
``ipv4_address_scope``/``ipv6_address_scope`` is the scope of its subnets' pool.

Policy (Neutron's defaults): a scope is its project's (or an admin's) to change and delete;
every project sees scopes shared to all (``shared``: admin-only, and never undone: 400) or to
it by an RBAC policy (``rbac-address-scope``). A scope some pool uses cannot be deleted (409).

Races (PostgreSQL): update and delete lock the scope's row (``for_change``/``for_delete``),
the row a pool joining the scope locks: a delete waits for the join and then sees the pool.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import NamedBadRequest, NamedConflict
from neutrino.common.ids import new_id
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import common, policy, rbac, rbac_objects
from neutrino.service import subnetpool_attrs as spa
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.store import locks
from neutrino.store import rbac as rbac_repo
from neutrino.store import subnetpools as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC = spa.SCOPE_SPEC


def view(row: Any, shared: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "shared": shared,
        "ip_version": row["ip_version"],
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
    }


def render(conn: Any, rows: list[Any], project: str) -> list[dict[str, Any]]:
    granted = rbac_repo.granted_ids(conn, project, [r["id"] for r in rows])
    return [view(r, bool(r["shared"]) or r["id"] in granted) for r in rows]


class AddressScopeService:
    def __init__(self, store: Store, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas

    def _load(self, conn: Any, ctx: RequestContext, scope_id: str, action: str = "") -> Any:
        return rbac_objects.load(conn, ctx, "address_scope", scope_id, action)

    def get(self, ctx: RequestContext, scope_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [self._load(conn, ctx, scope_id)], ctx.project_id)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return render(conn, repo.list_scopes(conn, query, ctx.list_scope), ctx.project_id)

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_address_scope")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            policy.check_admin_only(ctx, "create_address_scope", SPEC, attrs)
            attrs["project"] = common.owner_project(ctx, attrs)
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]) -> Any:
        for project, count in common.per_project(ctx, items):
            self.quotas.check(tx, project, "address_scope", count)
        ids = []
        for attrs in items:
            scope_id = new_id()
            row = common.new_row(
                scope_id,
                attrs["project"],
                attrs,
                ip_version=attrs["ip_version"],
                shared=bool(attrs.get("shared")),
            )
            repo.insert_scope(tx.conn, row)
            if attrs.get("shared"):
                rbac_objects.share_to_all(tx, "address_scope", scope_id, attrs["project"])
            tx.created(Resource.ADDRESS_SCOPE, scope_id)
            ids.append(scope_id)
        return render(tx.conn, [repo.find_scope(tx.conn, i) for i in ids], ctx.project_id)

    def update(
        self, ctx: RequestContext, scope_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_address_scope", lambda: self.get(ctx, scope_id))
        attrs = parse_update(body, SPEC)
        policy.check_admin_only(ctx, "update_address_scope", SPEC, attrs)
        return self.store.write(self._update_tx, ctx, scope_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, scope_id: str, attrs: dict[str, Any], if_match: Any
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "address_scopes", scope_id)
        row = self._load(tx.conn, ctx, scope_id, "update_address_scope")
        common.check_revision(row["revision_number"], if_match)
        if row["shared"] and attrs.get("shared") is False:
            raise NamedBadRequest(
                "AddressScopeUpdateError",
                f"Unable to update address scope {scope_id} : Shared address scope can't be "
                f"unshared.",
            )
        if attrs.get("shared") and not row["shared"]:
            rbac_objects.share_to_all(tx, "address_scope", scope_id, row["project_id"])
        changed = common.changed_attrs(attrs, row, ("name", "shared"))
        if changed:
            tx.updated(Resource.ADDRESS_SCOPE, scope_id, changed)
        return render(tx.conn, [repo.find_scope(tx.conn, scope_id)], ctx.project_id)[0]

    def delete(self, ctx: RequestContext, scope_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_address_scope", lambda: self.get(ctx, scope_id))
        self.store.write(self._delete_tx, ctx, scope_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, scope_id: str, if_match: Any) -> None:
        locks.for_delete(tx.conn, "address_scopes", scope_id)
        row = self._load(tx.conn, ctx, scope_id, "delete_address_scope")
        common.check_revision(row["revision_number"], if_match)
        if repo.scope_in_use(tx.conn, scope_id):
            raise NamedConflict(
                "AddressScopeInUse",
                f"Unable to complete operation on address scope {scope_id}. There are one or "
                f"more subnet pools in use on the address scope.",
            )
        tx.deleted(Resource.ADDRESS_SCOPE, row)
        repo.delete_scope(tx.conn, scope_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, scope_id))
