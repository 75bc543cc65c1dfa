"""Quotas: per-project limits on networks, subnets, ports, routers, floating IPs, security
groups and their rules, and RBAC policies
(``-1`` = unlimited), the Neutron quota API, and the check every create makes inside its own
transaction.

A burst of concurrent creates cannot overshoot. On SQLite writers are serialized. On
PostgreSQL ``check`` first takes the transaction-scoped key lock of (project, resource)
(``store.locks.key``), then reads the limit and counts: the creates of one resource in one
project are serialized from their check to their commit, and each counts what the ones before
it committed. Creates in other projects, or of other resources, do not wait. Nothing is locked
for an unlimited resource (a limit set on one while creates are under way is compared with
the count at that moment, as Neutron does). Callers check before they lock any row (the lock
order of ``store.locks``), and several keys in a fixed order: projects sorted, a group before
its rules. A limit update takes the same key, so it is compared against a count that cannot grow
under it.

Defaults come from the settings (Neutron's: 100 networks, 500 ports, ...) for every project;
bootstrap gives the admin project (through which a virtualization manager provisions every
VM's vNIC) unlimited overrides (``seed``), which an admin can change like any other.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import BadRequest, NamedConflict, PolicyNotAuthorized
from neutrino.common.settings import Settings
from neutrino.domain import attributes
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import quotas as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

RESOURCES = (
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "rbac_policy",
    "subnetpool",
    "address_scope",
)
MAX_LIMIT = 2**31 - 1  # Neutron's DB_INTEGER_MAX_VALUE


def quota_key(project_id: str, resource: str) -> str:
    return f"quota:{project_id}:{resource}"


class QuotaService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.defaults = {
            "network": settings.quota_network,
            "subnet": settings.quota_subnet,
            "port": settings.quota_port,
            "router": settings.quota_router,
            "floatingip": settings.quota_floatingip,
            "security_group": settings.quota_security_group,
            "security_group_rule": settings.quota_security_group_rule,
            "rbac_policy": settings.quota_rbac_policy,
            "subnetpool": settings.quota_subnetpool,
            "address_scope": settings.quota_address_scope,
        }

    def check(self, tx: Tx, project_id: str, resource: str, adding: int = 1) -> None:
        limit = self._limit(tx, project_id, resource)
        if limit < 0:
            return
        if locks.enabled(tx.conn):
            locks.key(tx.conn, quota_key(project_id, resource))
            limit = self._limit(tx, project_id, resource)  # as committed before the lock
        if limit >= 0 and repo.usage(tx.conn, project_id, resource) + adding > limit:
            raise NamedConflict("OverQuota", f"Quota exceeded for resources: ['{resource}'].")

    def _limit(self, tx: Tx, project_id: str, resource: str) -> int:
        override = repo.limit_of(tx.conn, project_id, resource)
        return self.defaults[resource] if override is None else override

    def _limits(self, conn: Any, project_id: str) -> dict[str, int]:
        return {**self.defaults, **repo.overrides(conn, project_id).get(project_id, {})}

    def _authorize_read(self, ctx: RequestContext, project_id: str) -> None:
        if not ctx.owns(project_id):
            raise PolicyNotAuthorized("rule:get_quota")

    def show(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._authorize_read(ctx, project_id)
        with self.store.read() as conn:
            return self._limits(conn, project_id)

    def details(self, ctx: RequestContext, project_id: str) -> dict[str, dict[str, int]]:
        self._authorize_read(ctx, project_id)
        with self.store.read() as conn:
            limits = self._limits(conn, project_id)
            return {
                r: {"limit": limits[r], "used": repo.usage(conn, project_id, r), "reserved": 0}
                for r in RESOURCES
            }

    def defaults_for(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._authorize_read(ctx, project_id)
        return dict(self.defaults)

    def search(self, ctx: RequestContext) -> list[dict[str, Any]]:
        ctx.require_admin("get_quota")
        with self.store.read() as conn:
            return [
                {**self.defaults, **limits, "project_id": project, "tenant_id": project}
                for project, limits in repo.overrides(conn).items()
            ]

    def update(self, ctx: RequestContext, project_id: str, body: Any) -> dict[str, int]:
        ctx.require_admin("update_quota")
        if not isinstance(body, dict):
            raise BadRequest("Unable to find 'quota' in request body")
        body = dict(body)
        force = body.pop("force", False) is True  # Neutron: only a literal true skips the check
        # quota-check-limit: the usage is checked anyway (quota-check-limit-default), so the
        # flag is accepted and has nothing left to do, as in Neutron since 2025.1
        body.pop("check_limit", None)
        changes = {}
        for resource, value in body.items():
            if resource not in RESOURCES:
                raise BadRequest(f"Unrecognized attribute(s) '{resource}'")
            try:
                limit = int(value)
            except (TypeError, ValueError):
                raise BadRequest(
                    f"Invalid input for {resource}. Reason: '{value}' is not an integer."
                ) from None
            if limit < -1:
                raise BadRequest(
                    f"Invalid input for {resource}. Reason: '{limit}' should be "
                    f"greater than or equal to -1."
                )
            if limit > MAX_LIMIT:
                raise BadRequest(
                    f"Invalid input for {resource}. Reason: '{limit}' should be "
                    f"less than or equal to {MAX_LIMIT}."
                )
            changes[resource] = limit

        def tx_fn(tx: Tx) -> dict[str, int]:
            for resource in sorted(changes):
                locks.key(tx.conn, quota_key(project_id, resource))
            for resource, limit in changes.items():
                used = repo.usage(tx.conn, project_id, resource)
                if not force and limit != -1 and used > limit:
                    raise BadRequest(
                        f"Quota limit {limit} for {resource} must be greater than "
                        f"or equal to already used {used}"
                    )
            for resource, limit in changes.items():
                repo.set_limit(tx.conn, project_id, resource, limit)
            tx.updated(Resource.QUOTA, _quota(project_id))
            return self._limits(tx.conn, project_id)

        return self.store.write(tx_fn)

    def seed(self, project_id: str, limits: dict[str, int], *, replace: bool) -> dict[str, int]:
        """Internal callers (bootstrap): set ``limits`` (``-1`` = unlimited) for a project,
        and with ``replace`` drop its other overrides first. The limits in force after."""
        unknown = set(limits) - set(RESOURCES)
        if unknown:
            raise BadRequest(f"Unrecognized quota resource(s) {sorted(unknown)}")

        def tx_fn(tx: Tx) -> dict[str, int]:
            if replace:
                repo.reset(tx.conn, project_id)
            for resource, limit in limits.items():
                repo.set_limit(tx.conn, project_id, resource, limit)
            tx.updated(Resource.QUOTA, _quota(project_id))  # as ``update`` does
            return self._limits(tx.conn, project_id)

        return self.store.write(tx_fn)

    def reset(self, ctx: RequestContext, project_id: str) -> None:
        ctx.require_admin("delete_quota")
        _check_project_id(project_id)

        def tx_fn(tx: Tx) -> None:
            repo.reset(tx.conn, project_id)
            tx.deleted(Resource.QUOTA, _quota(project_id))

        self.store.write(tx_fn)


def _check_project_id(project_id: str) -> None:
    """No project has an id longer than the columns hold: refuse it before the query."""
    try:
        attributes.project_id(project_id)
    except attributes.Invalid as exc:
        raise BadRequest(f"Invalid input for project_id. Reason: {exc}.") from None


def _quota(project_id: str) -> dict[str, str]:
    """A project's limits as a change-log row: no id of their own, the change names the project
    (project_id is 64 wide; resource_id, a UUID's width, cannot hold every project id)."""
    return {"id": "", "project_id": project_id}
