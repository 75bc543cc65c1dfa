"""Security groups and their rules: create, show, list, update (groups only), delete; and the
security-group side of a port (its default group, validation of the groups it names).

The default group: every project has one named ``default``, created on first need (the
project lists or creates groups or rules, or creates a port without ``security_groups``) in the
caller's transaction. ``default_security_groups`` (primary key: project) makes that creation
race-safe: a concurrent creator hits the key, its whole transaction is retried and then finds
the group. Only an admin may delete it (tempest's credential cleanup does); the next need
creates a new one. Its name is fixed and no other group may be called ``default``.

A new group's first rules come from the default-rule templates (``default_security_group_rules``,
see ``service.default_security_group_rules``): those marked for default groups when the group is
the project's ``default``, those marked for other groups otherwise. The default group is also
created with a project's first network (as Neutron's ML2 does).

Rules are immutable: created (validated by ``domain.security_groups``, duplicates refused) or
deleted; each change bumps the group's revision. A project sees its own groups, its own rules
and every rule of its own groups, whoever created it.

Quotas (``security_group``, ``security_group_rule``) are checked when a caller creates groups
or rules, counting the rules a new group takes from the templates. Creating the default group
on first need is never refused for quota: a port or network create does not fail because of it.

Locks (PostgreSQL, ``store.locks``): a port that binds groups share-locks them (``for_use``)
before checking they exist, and a group delete locks the group (``for_delete``) before it
looks for ports using it: of a delete and a port create racing, either the port is created
and the delete answers 409 ``SecurityGroupInUse``, or the group is gone and the port create
answers 404. An update locks the group before comparing ``If-Match`` (``for_change``, or
``for_delete`` when ``stateful`` changes, which must not happen under a port binding it);
creates take the project's quota keys (group, then rule) before counting.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, NamedConflict, PolicyNotAuthorized
from neutrino.common.ids import new_id
from neutrino.domain import security_groups as sgd
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    nullable,
    one_of,
    parse_create,
    parse_update,
    project_id,
    string,
    tag_list,
    to_bool,
    uuid,
)
from neutrino.domain.listing import ListQuery
from neutrino.service import common, rbac
from neutrino.service.context import RequestContext
from neutrino.service.default_security_group_rules import template_of
from neutrino.service.quotas import QuotaService
from neutrino.store import locks
from neutrino.store import rbac as rbac_repo
from neutrino.store import security_groups as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

GROUP_SPEC: dict[str, Attr] = {
    **STANDARD,
    "stateful": Attr(to_bool),
    "tags": Attr(tag_list, allow_put=False),
}
RULE_SPEC: dict[str, Attr] = {
    "security_group_id": Attr(string(36), allow_put=False, required=True),
    "remote_group_id": Attr(nullable(string(255)), allow_put=False),
    "remote_address_group_id": Attr(nullable(uuid), allow_put=False),
    "direction": Attr(one_of("ingress", "egress"), allow_put=False, required=True),
    "protocol": Attr(sgd.to_protocol, allow_put=False),
    "port_range_min": Attr(sgd.to_port, allow_put=False),
    "port_range_max": Attr(sgd.to_port, allow_put=False),
    "ethertype": Attr(sgd.to_ethertype, allow_put=False),
    "remote_ip_prefix": Attr(sgd.to_ip_prefix, allow_put=False),
    "description": Attr(string(255)),
    "project_id": Attr(project_id, allow_put=False),
    "tenant_id": Attr(project_id, allow_put=False),
}


# --- views -----------------------------------------------------------------------------------


def rule_view(row: Any, listed_in_group: bool = False) -> dict[str, Any]:
    """A rule; ``belongs_to_default_sg`` is null inside a listed group, as Neutron renders a
    group list's rules from its database rows (a group's show and create compute it)."""
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "security_group_id": row["security_group_id"],
        "ethertype": row["ethertype"],
        "direction": row["direction"],
        "protocol": row["protocol"],
        "port_range_min": row["port_range_min"],
        "port_range_max": row["port_range_max"],
        "remote_ip_prefix": row["remote_ip_prefix"],
        "normalized_cidr": row["normalized_cidr"],
        "remote_group_id": row["remote_group_id"],
        "remote_address_group_id": row["remote_address_group_id"],
        "belongs_to_default_sg": None if listed_in_group else bool(row["belongs_to_default_sg"]),
        "description": row["description"],
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
        "tenant_id": row["project_id"],
    }


def group_view(
    row: Any, rules: list[Any], tags: list[str], shared: bool = False, listed: bool = False
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "stateful": bool(row["stateful"]),
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "shared": shared,
        "security_group_rules": [rule_view(r, listed) for r in rules],
        **common.standard_view(row, tags),
    }


def _render_groups(
    conn: Any, rows: list[Any], project: str = "", listed: bool = False
) -> list[dict[str, Any]]:
    """``shared``: shared to ``project`` (the caller's) by an RBAC policy, by name or to all."""
    ids = [row["id"] for row in rows]
    rules = repo.rules_of(conn, ids)
    tags = tag_repo.tags_of(conn, ids)
    shared = rbac_repo.granted_ids(conn, project, ids)
    return [
        group_view(
            row, rules.get(row["id"], []), tags.get(row["id"], []), row["id"] in shared, listed
        )
        for row in rows
    ]


# --- the default group and ports (used by the port service inside its transaction) -----------


def _insert_group(
    tx: Tx,
    group_id: str,
    project: str,
    name: str,
    description: str,
    stateful: bool,
    is_default: bool,
    templates: list[sgd.Template] | None = None,
) -> None:
    """Insert a group with its first rules, made from the default-rule templates for its kind
    (read here unless the caller already has them)."""
    group = {"name": name, "description": description}
    row = common.new_row(group_id, project, group, revision=1, stateful=stateful)
    repo.insert_group(tx.conn, row)
    if is_default:
        repo.insert_default(tx.conn, project, group_id)
    if templates is None:
        templates = templates_for(tx, is_default)
    repo.insert_rules(
        tx.conn,
        [
            rule_row(rule, project, None, row["created_at"])
            for rule in sgd.rules_from_templates(group_id, templates)
        ],
    )
    tx.created(Resource.SECURITY_GROUP, group_id)


def templates_for(tx: Tx, default_group: bool) -> list[sgd.Template]:
    return [template_of(row) for row in repo.templates_for(tx.conn, default_group)]


def rule_row(rule: sgd.Rule, project: str, description: str | None, now: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "project_id": project,
        "description": description,
        "created_at": now,
        "updated_at": now,
        "revision_number": 0,
        "security_group_id": rule.security_group_id,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": rule.remote_address_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": sgd.normalized_cidr(rule.remote_ip_prefix),
    }


def ensure_default(tx: Tx, project: str) -> str:
    """The project's default group id, creating the group in this transaction if missing."""
    found = repo.default_group_id(tx.conn, project)
    if found is not None:
        return found
    group_id = new_id()
    _insert_group(
        tx,
        group_id,
        project,
        sgd.DEFAULT_NAME,
        sgd.DEFAULT_DESCRIPTION,
        stateful=True,
        is_default=True,
    )
    return group_id


def check_port_groups(tx: Tx, ctx: RequestContext, project: str, ids: list[str]) -> None:
    """Groups a port of ``project`` may use: no repeats, each existing and the project's own
    (any for an admin), not a mix of stateful and stateless."""
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise BadRequest(
            f"Invalid input for security_groups. Reason: Duplicate items in the "
            f"list: '{', '.join(dupes)}'."
        )
    locks.for_use(tx.conn, "security_groups", ids)  # not deleted before this port commits
    found = repo.owners(tx.conn, ids)
    shared = rbac_repo.granted_ids(tx.conn, project, ids)  # shared to the port's project
    missing = [
        i
        for i in ids
        if i not in found or not (ctx.is_admin or found[i][0] == project or i in shared)
    ]
    if missing:
        raise sgd.SecurityGroupNotFound(", ".join(missing))
    if len({stateful for _, stateful in found.values()}) > 1:
        raise sgd.mixed_statefulness()


def port_groups_on_create(
    tx: Tx, ctx: RequestContext, project: str, requested: list[str] | None, port_security: bool
) -> list[str]:
    """Omitted (``None``) -> the project's default group, except for ports without port
    security; a list -> exactly those groups. Ports created through the API are never the
    system's own (those are made by the DHCP and router code), so a ``network:*``
    ``device_owner`` here is only a claim and the port is filtered like any other: it gets the
    default group too."""
    if requested is None:
        if not port_security:
            return []
        group_id = ensure_default(tx, project)
        if locks.enabled(tx.conn):  # an admin may be deleting it: then make a new one
            locks.for_use(tx.conn, "security_groups", [group_id])
            if not repo.groups_by_ids(tx.conn, [group_id]):
                group_id = ensure_default(tx, project)
        return [group_id]
    check_port_groups(tx, ctx, project, requested)
    return requested


# --- groups ----------------------------------------------------------------------------------


class SecurityGroupService:
    def __init__(self, store: Store, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas

    def _load(self, conn: Any, ctx: RequestContext, group_id: str, action: str = "") -> Any:
        """The group if the caller sees it (its own, or shared to its project by an RBAC
        policy); with ``action``, a group only shared to it is 403: not the caller's to
        change."""
        row = repo.find_group(conn, group_id)
        if row is None or not (
            ctx.owns(row["project_id"]) or rbac_repo.granted_ids(conn, ctx.project_id, [group_id])
        ):
            raise sgd.SecurityGroupNotFound(group_id)
        if action and not ctx.owns(row["project_id"]):
            raise PolicyNotAuthorized(f"rule:{action}")
        return row

    def _ensure_default_for_list(self, ctx: RequestContext, query: ListQuery) -> None:
        wanted = query.filters.get("project_id") or query.filters.get("tenant_id")
        project = str(wanted[0]) if wanted else ctx.project_id
        if not project or not (ctx.is_admin or project == ctx.project_id):
            return
        with self.store.read() as conn:
            if repo.default_group_id(conn, project) is not None:
                return
        self.store.write(ensure_default, project)

    def get(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return _render_groups(conn, [self._load(conn, ctx, group_id)], ctx.project_id)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        self._ensure_default_for_list(ctx, query)
        with self.store.read() as conn:
            rows = repo.list_groups(conn, query, ctx.list_scope, ctx.project_id)
            return _render_groups(conn, rows, ctx.project_id, listed=True)

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_security_group")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, GROUP_SPEC)
            if str(attrs.get("name", "")).lower() == sgd.DEFAULT_NAME:
                raise sgd.default_exists()
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        templates = templates_for(tx, default_group=False)
        for project, count in common.per_project(ctx, items):
            self.quotas.check(tx, project, "security_group", count)
            ensure_default(tx, project)
            self.quotas.check(tx, project, "security_group_rule", count * len(templates))
        ids = []
        for attrs in items:
            project = common.owner_project(ctx, attrs)
            group_id = new_id()
            _insert_group(
                tx,
                group_id,
                project,
                attrs.get("name", ""),
                attrs.get("description", ""),
                attrs.get("stateful", True),
                is_default=False,
                templates=templates,
            )
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "security_groups", group_id, attrs["tags"])
            ids.append(group_id)
        rows = {i: repo.find_group(tx.conn, i) for i in ids}
        return _render_groups(tx.conn, [rows[i] for i in ids])

    def update(
        self, ctx: RequestContext, group_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_security_group", lambda: self.get(ctx, group_id))
        attrs = parse_update(body, GROUP_SPEC)
        if "name" in attrs and str(attrs["name"]).lower() == sgd.DEFAULT_NAME:
            raise sgd.default_exists()
        return self.store.write(self._update_tx, ctx, group_id, attrs, if_match)

    def _update_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        group_id: str,
        attrs: dict[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        if "stateful" in attrs:  # no port may bind it while its statefulness changes
            locks.for_delete(tx.conn, "security_groups", group_id)
        else:
            locks.for_change(tx.conn, "security_groups", group_id)
        row = self._load(tx.conn, ctx, group_id, "update_security_group")
        common.check_revision(row["revision_number"], if_match)
        if row["name"] == sgd.DEFAULT_NAME and "name" in attrs:
            raise NamedConflict(
                "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."
            )
        if (
            "stateful" in attrs
            and attrs["stateful"] != bool(row["stateful"])
            and repo.ports_using(tx.conn, group_id)
        ):
            raise sgd.in_use(group_id)
        changed = common.changed_attrs(attrs, row, ("name", "description", "stateful"))
        if changed:
            tx.updated(Resource.SECURITY_GROUP, group_id, changed)
        return _render_groups(tx.conn, [repo.find_group(tx.conn, group_id)], ctx.project_id)[0]

    def delete(self, ctx: RequestContext, group_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_security_group", lambda: self.get(ctx, group_id))
        self.store.write(self._delete_tx, ctx, group_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, group_id: str, if_match: int | None) -> None:
        locks.for_delete(tx.conn, "security_groups", group_id)  # waits for ports binding it
        row = self._load(tx.conn, ctx, group_id, "delete_security_group")
        common.check_revision(row["revision_number"], if_match)
        if repo.ports_using(tx.conn, group_id):
            raise sgd.in_use(group_id)
        if row["name"] == sgd.DEFAULT_NAME and not ctx.is_admin:
            raise NamedConflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            )
        remote_rules = repo.rules_naming(tx.conn, group_id)
        tx.deleted(Resource.SECURITY_GROUP, row)
        repo.delete_group(tx.conn, group_id)
        for rule_id, rule_project in remote_rules:  # cascaded: other groups' rules naming it
            tx.deleted(Resource.SECURITY_GROUP_RULE, {"id": rule_id, "project_id": rule_project})
        tag_repo.delete_all(tx.conn, group_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, group_id))


# --- rules -----------------------------------------------------------------------------------
