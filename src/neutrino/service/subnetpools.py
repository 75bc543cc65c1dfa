"""Subnet pools (``/v2.0/subnetpools``, extensions ``subnet_allocation``,
``default-subnetpools``, ``subnetpool-prefix-ops``): create, show, list, update, delete, and
the ``add_prefixes``/``remove_prefixes`` actions. Subnets are carved from pools by
``service.subnet_from_pool``.

Policy (Neutron's defaults): a pool is its project's (or an admin's) to change; every project
sees pools shared to all (``shared: true``, only an admin may set it, at create) or to it by an
RBAC policy; only an admin may set ``is_default``, and one default pool exists per ip_version.
A pool tied to an address scope must be of the scope's ip_version, may use only a scope its
project owns or one shared to it, and must not overlap another pool of the scope (409); a
pool tied to a scope owned by another project cannot be changed by a member (400).

Prefixes are stored compacted. An update may only grow them (``remove_prefixes`` shrinks them,
refused while a subnet of the pool uses the space). A pool with subnets cannot be deleted.

Races (PostgreSQL): every update, action and delete locks the pool's row first (``for_change``,
``for_delete`` for the delete), the row subnet creates lock before carving; a scope named by a
pool is locked after it (``for_change``), so two pools joining one scope are checked for
overlap one after the other. Choosing a default pool takes an advisory key per ip_version.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import InvalidInput, NamedBadRequest, NamedConflict
from neutrino.common.ids import new_id
from neutrino.domain import prefixes as px
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import common, policy, rbac, rbac_objects
from neutrino.service import subnetpool_attrs as spa
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.service.subnet_from_pool import affinity_error
from neutrino.store import locks
from neutrino.store import rbac as rbac_repo
from neutrino.store import subnetpools as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC = spa.POOL_SPEC


def view(row: Any, prefixes: list[str], tags: list[str], shared: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "prefixes": prefixes,
        "ip_version": row["ip_version"],
        # strings, as Neutron renders them (its update answer aside: ``_update_tx``)
        "default_prefixlen": str(row["default_prefixlen"]),
        "min_prefixlen": str(row["min_prefixlen"]),
        "max_prefixlen": str(row["max_prefixlen"]),
        "default_quota": row["default_quota"],
        "is_default": bool(row["is_default"]),
        "shared": shared,
        "address_scope_id": row["address_scope_id"],
        **common.standard_view(row, tags),
    }


def render(conn: Any, rows: list[Any], project: str) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    prefixes, tags = repo.prefixes_of(conn, ids), tag_repo.tags_of(conn, ids)
    granted = rbac_repo.granted_ids(conn, project, ids)
    return [
        view(
            r,
            sorted(prefixes.get(r["id"], []), key=lambda c: px.interval(px.network(c))),
            tags.get(r["id"], []),
            bool(r["shared"]) or r["id"] in granted,
        )
        for r in rows
    ]


class SubnetPoolService:
    def __init__(self, store: Store, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas

    def _load(self, conn: Any, ctx: RequestContext, pool_id: str, action: str = "") -> Any:
        return rbac_objects.load(conn, ctx, "subnetpool", pool_id, action)

    def get(self, ctx: RequestContext, pool_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [self._load(conn, ctx, pool_id)], ctx.project_id)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return render(conn, repo.list_rows(conn, query, ctx.list_scope), ctx.project_id)

    # --- create

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_subnetpool")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            policy.check_admin_only(ctx, "create_subnetpool", SPEC, attrs)
            attrs["project"] = common.owner_project(ctx, attrs)
            attrs.update(spa.read_pool(attrs))
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]) -> Any:
        for project, count in common.per_project(ctx, items):
            self.quotas.check(tx, project, "subnetpool", count)
        ids = []
        for attrs in items:
            pool_id = new_id()
            if attrs.get("is_default"):
                _check_default_free(tx, attrs["ip_version"])
            _check_scope(tx, ctx, attrs.get("address_scope_id"), pool_id, attrs)
            row = common.new_row(
                pool_id,
                attrs["project"],
                attrs,
                ip_version=attrs["ip_version"],
                default_prefixlen=attrs["default_prefixlen"],
                min_prefixlen=attrs["min_prefixlen"],
                max_prefixlen=attrs["max_prefixlen"],
                shared=bool(attrs.get("shared")),
                is_default=bool(attrs.get("is_default")),
                default_quota=attrs.get("default_quota"),
                address_scope_id=attrs.get("address_scope_id"),
            )
            repo.insert_row(tx.conn, row)
            repo.replace_prefixes(tx.conn, pool_id, attrs["prefixes"])
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "subnetpools", pool_id, attrs["tags"])
            if attrs.get("shared"):
                rbac_objects.share_to_all(tx, "subnetpool", pool_id, attrs["project"])
            tx.created(Resource.SUBNETPOOL, pool_id)
            ids.append(pool_id)
        return render(tx.conn, [repo.find(tx.conn, i) for i in ids], ctx.project_id)

    # --- update and the prefix actions

    def update(
        self, ctx: RequestContext, pool_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_subnetpool", lambda: self.get(ctx, pool_id))
        attrs = parse_update(body, SPEC)
        policy.check_admin_only(ctx, "update_subnetpool", SPEC, attrs)
        return self.store.write(self._update_tx, ctx, pool_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, pool_id: str, attrs: dict[str, Any], if_match: Any
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "subnetpools", pool_id)
        row = self._load(tx.conn, ctx, pool_id, "update_subnetpool")
        common.check_revision(row["revision_number"], if_match)
        old = repo.prefixes_of(tx.conn, [pool_id]).get(pool_id, [])
        if "prefixes" in attrs:
            spa.check_prefixes_grow(old, attrs["prefixes"])
            attrs["prefixes"] = old + attrs["prefixes"]
        merged = {**dict(row), "prefixes": old, **attrs}
        merged.update(spa.read_pool(merged))
        if merged["is_default"] and not row["is_default"]:
            _check_default_free(tx, merged["ip_version"])
        if row["address_scope_id"]:
            scope = repo.find_scope(tx.conn, row["address_scope_id"])
            if scope is not None and not ctx.owns(scope["project_id"]):
                raise NamedBadRequest(
                    "IllegalSubnetPoolUpdate",
                    f"Illegal subnetpool update : subnetpool {pool_id} cannot be updated when "
                    f"associated with shared address scope {row['address_scope_id']}.",
                )
        _check_scope(tx, ctx, merged["address_scope_id"], pool_id, merged)
        self._save(tx, row, merged, old)
        out = render(tx.conn, [repo.find(tx.conn, pool_id)], ctx.project_id)[0]
        return {**out, **{k: int(out[k]) for k in spa.BOUNDS}}  # Neutron's update: integers

    def _save(self, tx: Tx, row: Any, merged: dict[str, Any], old: list[str]) -> None:
        """Write what changed: one revision bump and one log entry per call."""
        keys = ("name", "description", "default_quota", "is_default", "address_scope_id")
        changed = {k: merged[k] for k in (*keys, *spa.BOUNDS) if merged[k] != row[k]}
        new_prefixes = merged["prefixes"] if sorted(merged["prefixes"]) != sorted(old) else None
        if not changed and new_prefixes is None:
            return
        if new_prefixes is not None:
            repo.replace_prefixes(tx.conn, row["id"], new_prefixes)
        tx.updated(Resource.SUBNETPOOL, row["id"], changed)

    def add_prefixes(self, ctx: RequestContext, pool_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("add_prefixes", lambda: self.get(ctx, pool_id))
        wanted = spa.action_prefixes(body)
        return self.store.write(self._prefixes_tx, ctx, pool_id, wanted, True)

    def remove_prefixes(self, ctx: RequestContext, pool_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("remove_prefixes", lambda: self.get(ctx, pool_id))
        wanted = spa.action_prefixes(body)
        return self.store.write(self._prefixes_tx, ctx, pool_id, wanted, False)

    def _prefixes_tx(
        self, tx: Tx, ctx: RequestContext, pool_id: str, wanted: list[str], adding: bool
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "subnetpools", pool_id)
        row = self._load(tx.conn, ctx, pool_id, "add_prefixes" if adding else "remove_prefixes")
        old = repo.prefixes_of(tx.conn, [pool_id]).get(pool_id, [])
        merged = {**dict(row), "prefixes": old}
        if adding:
            merged["prefixes"] = old + wanted
            merged.update(spa.read_pool(merged))
            _check_scope(tx, ctx, row["address_scope_id"], pool_id, merged)
        else:
            merged["prefixes"] = _without(tx, pool_id, old, wanted)
        self._save(tx, row, merged, old)
        now = repo.prefixes_of(tx.conn, [pool_id]).get(pool_id, [])
        return {"prefixes": sorted(now, key=lambda c: px.interval(px.network(c)))}

    # --- delete

    def delete(self, ctx: RequestContext, pool_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_subnetpool", lambda: self.get(ctx, pool_id))
        self.store.write(self._delete_tx, ctx, pool_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, pool_id: str, if_match: Any) -> None:
        locks.for_delete(tx.conn, "subnetpools", pool_id)
        row = self._load(tx.conn, ctx, pool_id, "delete_subnetpool")
        common.check_revision(row["revision_number"], if_match)
        if repo.in_use(tx.conn, pool_id):
            raise NamedBadRequest(
                "SubnetPoolDeleteError",
                "Unable to delete subnet pool: Subnet pool has existing allocations.",
            )
        tx.deleted(Resource.SUBNETPOOL, row)
        repo.delete_row(tx.conn, pool_id)
        tag_repo.delete_all(tx.conn, pool_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, pool_id))


def _without(tx: Tx, pool_id: str, old: list[str], removing: list[str]) -> list[str]:
    """The pool's prefixes minus ``removing``; refused where a subnet uses that space."""
    have = px.span(px.network(c) for c in old)
    gone = px.span(px.network(c) for c in removing)
    if not have or not px.overlap(have, gone):
        return old
    used = px.span(px.network(c) for c, _ in repo.allocated(tx.conn, pool_id))
    if px.overlap(used, gone):
        raise NamedBadRequest(
            "IllegalSubnetPoolPrefixUpdate",
            "Illegal update to prefixes: One or more the prefixes to be removed is in use by "
            "a subnet.",
        )
    version = px.network(old[0]).version
    return [str(n) for n in px.blocks(px.subtract(have, gone), version)]


def _check_default_free(tx: Tx, version: int) -> None:
    locks.key(tx.conn, f"default-subnetpool:{version}")
    if repo.default_pool(tx.conn, version) is not None:
        raise InvalidInput(
            "A default subnetpool for this IP family has already been set. Only one default "
            "may exist per IP family"
        )


def _check_scope(
    tx: Tx, ctx: RequestContext, scope_id: str | None, pool_id: str, pool: dict[str, Any]
) -> None:
    """Neutron's ``_validate_address_scope_id`` for a pool joining (or staying in) a scope."""
    if scope_id is None:
        return
    locks.for_change(tx.conn, "address_scopes", scope_id)
    scope = repo.find_scope(tx.conn, scope_id)
    if scope is None or not rbac_objects.visible(
        tx.conn, ctx, scope
    ):  # Neutron: not accessible = absent
        raise spa.scope_not_found(scope_id)
    if scope["ip_version"] != pool["ip_version"]:
        raise NamedBadRequest(
            "IllegalSubnetPoolIpVersionAssociationToAddressScope",
            f"Illegal subnetpool association: subnetpool {pool_id} cannot associate with "
            f"address scope {scope_id} because subnetpool ip_version is not "
            f"{scope['ip_version']}.",
        )
    _check_rescope(tx, pool_id, pool["ip_version"])
    mine = px.span(px.network(c) for c in pool["prefixes"])
    others = [o["id"] for o in repo.pools_in_scope(tx.conn, scope_id) if o["id"] != pool_id]
    for cidrs in repo.prefixes_of(tx.conn, others).values():
        if px.overlap(mine, px.span(px.network(c) for c in cidrs)):
            raise NamedConflict(
                "AddressScopePrefixConflict",
                "Failed to associate address scope: subnetpools within an address scope "
                "must have unique prefixes.",
            )


def _check_rescope(tx: Tx, pool_id: str, version: int) -> None:
    """The networks with subnets of this pool must have no other subnet of its version."""
    networks = repo.networks_of_pool(tx.conn, pool_id)
    if any(s["subnetpool_id"] != pool_id for s in repo.subnets_on(tx.conn, networks, version)):
        raise affinity_error()
