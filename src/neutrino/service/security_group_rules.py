"""Security-group rules: create (single and bulk), show, list, delete; rules are immutable.

See ``service.security_groups`` for the rules of visibility (a project sees its own rules and
every rule of its own groups), the default group (created on first need, here too) and
quotas; validation and duplicates are ``domain.security_groups``'.

Locks (PostgreSQL, ``store.locks``): a create takes the project's rule quota key, then locks
its group (``for_change``: two identical rules racing, one is refused as a duplicate; the
revision bumps in turn) and share-locks the remote groups it names (``for_use``); before all
that it share-locks the address groups it names (``for_use``: an address-group delete waits,
then sees the rule and answers 409). A delete
locks the group, then the rule (``for_delete``), in the same order as a group delete that
cascades to its rules: of two deletes of one rule the second answers 404.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import MethodNotAllowed
from neutrino.domain import security_groups as sgd
from neutrino.domain.attributes import parse_create
from neutrino.domain.listing import ListQuery
from neutrino.service import rbac_objects
from neutrino.service.common import check_revision, owner_project
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.service.security_groups import RULE_SPEC, SecurityGroupService, rule_row, rule_view
from neutrino.store import address_groups as ag_repo
from neutrino.store import locks
from neutrino.store import rbac as rbac_repo
from neutrino.store import security_groups as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx


class SecurityGroupRuleService:
    def __init__(self, store: Store, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas
        self._groups = SecurityGroupService(store, quotas)

    def _visible(self, conn: Any, ctx: RequestContext, row: Any) -> bool:
        if ctx.owns(row["project_id"]):
            return True
        group = repo.find_group(conn, row["security_group_id"])
        return group is not None and ctx.in_project(group["project_id"])

    def _load(self, conn: Any, ctx: RequestContext, rule_id: str) -> Any:
        row = repo.find_rule(conn, rule_id)
        if row is None or not self._visible(conn, ctx, row):
            raise sgd.SecurityGroupRuleNotFound(rule_id)
        return row

    def get(self, ctx: RequestContext, rule_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return rule_view(self._load(conn, ctx, rule_id))

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        self._groups._ensure_default_for_list(ctx, query)
        with self.store.read() as conn:
            rows = repo.list_rules(conn, query, ctx.list_scope)
            return [rule_view(row) for row in rows]

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_security_group_rule")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, RULE_SPEC)
            project = owner_project(ctx, attrs)
            rule = sgd.rule_from(attrs["security_group_id"], attrs)
            parsed.append((rule, project, attrs.get("description", "")))
        if len({rule.security_group_id for rule, _, _ in parsed}) > 1:
            raise sgd.invalid(
                "SecurityGroupNotSingleGroupRules",
                "Only allowed to update rules for one security profile at a time",
            )
        if len({project for _, project, _ in parsed}) > 1:
            raise sgd.invalid(
                "SecurityGroupRulesNotSingleProject",
                "Multiple project_ids in bulk security group rule create not allowed",
            )
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, items: list[tuple[sgd.Rule, str, str]]
    ) -> list[dict[str, Any]]:
        conn = tx.conn
        first, project, _ = items[0]
        self.quotas.check(tx, project, "security_group_rule", len(items))
        address_groups = sorted(
            {r.remote_address_group_id for r, _, _ in items if r.remote_address_group_id}
        )
        locks.for_use(conn, "address_groups", address_groups)  # before groups: the lock order
        locks.for_change(conn, "security_groups", first.security_group_id)
        locks.for_use(
            conn,
            "security_groups",
            [
                r.remote_group_id
                for r, _, _ in items
                if r.remote_group_id is not None and r.remote_group_id != first.security_group_id
            ],
        )
        for rule, _, _ in items:
            if rule.remote_group_id is not None:
                self._check_group(conn, ctx, project, rule.remote_group_id)
        for address_group in address_groups:
            self._check_address_group(conn, ctx, project, address_group)
        group = self._check_group(conn, ctx, project, first.security_group_id)
        existing = {
            sgd.rule_key(row): row["id"]
            for row in repo.rules_of(conn, [group["id"]]).get(group["id"], [])
        }
        seen: set[tuple[str, ...]] = set()
        for rule, _, _ in items:
            key = sgd.rule_key(rule)
            if key in seen:
                raise sgd.duplicate_in_post()
            seen.add(key)
            if key in existing:
                raise sgd.rule_exists(existing[key])
        now = clock.now()
        rows = [
            rule_row(rule, rule_project, description, now)
            for rule, rule_project, description in items
        ]
        repo.insert_rules(conn, rows)
        tx.updated(Resource.SECURITY_GROUP, group["id"])
        for row in rows:
            tx.created(Resource.SECURITY_GROUP_RULE, row)
        return [rule_view(repo.find_rule(conn, row["id"])) for row in rows]

    @staticmethod
    def _check_group(conn: Any, ctx: RequestContext, project: str, group_id: str) -> Any:
        row = repo.find_group(conn, group_id)
        if row is None or not (ctx.is_admin or row["project_id"] == project):
            raise sgd.SecurityGroupNotFound(group_id)
        return row

    @staticmethod
    def _check_address_group(conn: Any, ctx: RequestContext, project: str, group_id: str) -> None:
        """The rule's project must see the address group: its own, or shared to it."""
        row = None if "\x00" in group_id else ag_repo.find(conn, group_id)
        if row is None or not (
            ctx.is_admin
            or row["project_id"] == project
            or row["shared"]
            or rbac_repo.granted_ids(conn, project, [group_id])
        ):
            raise rbac_objects.not_found("address_group", group_id)

    def update(
        self, ctx: RequestContext, rule_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        raise MethodNotAllowed("Method PUT is not allowed on security group rules.")

    def delete(self, ctx: RequestContext, rule_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_security_group_rule", lambda: self.get(ctx, rule_id))
        self.store.write(self._delete_tx, ctx, rule_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, rule_id: str, if_match: int | None) -> None:
        found = repo.find_rule(tx.conn, rule_id) if locks.enabled(tx.conn) else None
        if found is not None:
            locks.for_change(tx.conn, "security_groups", found["security_group_id"])
            locks.for_delete(tx.conn, "security_group_rules", rule_id)
        row = self._load(tx.conn, ctx, rule_id)
        check_revision(row["revision_number"], if_match)
        tx.deleted(Resource.SECURITY_GROUP_RULE, row)
        repo.delete_rule(tx.conn, rule_id)
        tx.updated(Resource.SECURITY_GROUP, row["security_group_id"])
