"""Quotas: per-project limits on networks, subnets, ports, routers and floating IPs
(``-1`` = unlimited), the Neutron quota API, and the check every create makes inside its own
transaction (so a burst of concurrent creates cannot overshoot: on SQLite writers are
serialized, on PostgreSQL creates in one project may overshoot by the number of concurrent
transactions — Neutron has the same window without its reservation engine)."""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import BadRequest, NamedConflict, PolicyNotAuthorized
from neutrino.common.settings import Settings
from neutrino.domain import attributes
from neutrino.service.context import RequestContext
from neutrino.store import quotas as repo
from neutrino.store.uow import Store, Tx

RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group",
             "security_group_rule")
MAX_LIMIT = 2**31 - 1  # Neutron's DB_INTEGER_MAX_VALUE


class QuotaService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.defaults = {"network": settings.quota_network, "subnet": settings.quota_subnet,
                         "port": settings.quota_port, "router": settings.quota_router,
                         "floatingip": settings.quota_floatingip,
                         "security_group": settings.quota_security_group,
                         "security_group_rule": settings.quota_security_group_rule}

    def check(self, tx: Tx, project_id: str, resource: str, adding: int = 1) -> None:
        override = repo.limit_of(tx.conn, project_id, resource)
        limit = self.defaults[resource] if override is None else override
        if limit < 0:
            return
        if repo.usage(tx.conn, project_id, resource) + adding > limit:
            raise NamedConflict("OverQuota", f"Quota exceeded for resources: ['{resource}'].")

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
            return {r: {"limit": limits[r], "used": repo.usage(conn, project_id, r),
                        "reserved": 0} for r in RESOURCES}

    def defaults_for(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._authorize_read(ctx, project_id)
        return dict(self.defaults)

    def search(self, ctx: RequestContext) -> list[dict[str, Any]]:
        ctx.require_admin("get_quota")
        with self.store.read() as conn:
            return [{**self.defaults, **limits, "project_id": project, "tenant_id": project}
                    for project, limits in repo.overrides(conn).items()]

    def update(self, ctx: RequestContext, project_id: str, body: Any) -> dict[str, int]:
        ctx.require_admin("update_quota")
        if not isinstance(body, dict):
            raise BadRequest("Unable to find 'quota' in request body")
        body = dict(body)
        force = body.pop("force", False) is True  # Neutron: only a literal true skips the check
        changes = {}
        for resource, value in body.items():
            if resource not in RESOURCES:
                raise BadRequest(f"Unrecognized attribute(s) '{resource}'")
            try:
                limit = int(value)
            except (TypeError, ValueError):
                raise BadRequest(f"Invalid input for {resource}. Reason: '{value}' is not an "
                                 f"integer.") from None
            if limit < -1:
                raise BadRequest(f"Invalid input for {resource}. Reason: '{limit}' should be "
                                 f"greater than or equal to -1.")
            if limit > MAX_LIMIT:
                raise BadRequest(f"Invalid input for {resource}. Reason: '{limit}' should be "
                                 f"less than or equal to {MAX_LIMIT}.")
            changes[resource] = limit

        def tx_fn(tx: Tx) -> dict[str, int]:
            for resource, limit in changes.items():
                used = repo.usage(tx.conn, project_id, resource)
                if not force and limit != -1 and used > limit:
                    raise BadRequest(f"Quota limit {limit} for {resource} must be greater than "
                                     f"or equal to already used {used}")
            for resource, limit in changes.items():
                repo.set_limit(tx.conn, project_id, resource, limit)
            # A quota has no id of its own: the change names its project (project_id is
            # 64 wide; resource_id, a UUID's width, cannot hold every project id).
            tx.record("quota", "", "update", project_id)
            return self._limits(tx.conn, project_id)

        return self.store.write(tx_fn)

    def reset(self, ctx: RequestContext, project_id: str) -> None:
        ctx.require_admin("delete_quota")
        _check_project_id(project_id)

        def tx_fn(tx: Tx) -> None:
            repo.reset(tx.conn, project_id)
            tx.record("quota", "", "delete", project_id)

        self.store.write(tx_fn)


def _check_project_id(project_id: str) -> None:
    """No project has an id longer than the columns hold: refuse it before the query."""
    try:
        attributes.project_id(project_id)
    except attributes.Invalid as exc:
        raise BadRequest(f"Invalid input for project_id. Reason: {exc}.") from None
