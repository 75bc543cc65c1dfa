"""Default security-group rules (Neutron's ``security-groups-default-rules``): the templates a
new group takes its first rules from. Anyone may read them; only an admin creates or deletes
them; they are never updated.

A template is a rule without a group: the same attributes and the same validation as a rule
(``domain.security_groups.canonical_rule``), a ``remote_group_id`` that is either none or
``PARENT`` (the new group itself; neutrino refuses other values, which could only name one
project's group), no address group (neutrino has none), and two flags saying whether new
``default`` groups, other new groups, or both take it. Two templates clash (409) when they
say the same rule for the same kind of group.

Changing the templates changes only groups created afterwards, as in Neutron.

Races (PostgreSQL): creates take one key lock (``store.locks.key``) before comparing with the
existing templates, so of two clashing creates the second answers 409; a delete is one
``DELETE`` whose row count says whether it found the template (the second of two: 404).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import MethodNotAllowed
from neutrino.common.ids import new_id
from neutrino.domain import security_groups as sgd
from neutrino.domain.attributes import (
    Attr,
    Invalid,
    described,
    nullable,
    one_of,
    parse_create,
    project_id,
    string,
    to_bool,
)
from neutrino.domain.listing import ListQuery
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import security_groups as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

TEMPLATES_KEY = "default-security-group-rules"


@described({"enum": [sgd.PARENT, None]})
def _remote_group(value: Any) -> str | None:
    if value is None or value == sgd.PARENT:
        return value  # type: ignore[no-any-return]
    raise Invalid(
        f"'{value}' is not supported: a default rule's remote group can only be "
        f"'{sgd.PARENT}', the new security group itself"
    )


@described({"type": "null"})
def _no_address_group(value: Any) -> None:
    if value is not None:
        raise Invalid("address groups are not supported")


SPEC: dict[str, Attr] = {
    "direction": Attr(one_of("ingress", "egress"), allow_put=False, required=True),
    "ethertype": Attr(sgd.to_ethertype, allow_put=False),
    "protocol": Attr(sgd.to_protocol, allow_put=False),
    "port_range_min": Attr(sgd.to_port, allow_put=False),
    "port_range_max": Attr(sgd.to_port, allow_put=False),
    "remote_ip_prefix": Attr(sgd.to_ip_prefix, allow_put=False),
    "remote_group_id": Attr(_remote_group, allow_put=False),
    "remote_address_group_id": Attr(_no_address_group, allow_put=False),
    "description": Attr(nullable(string(255)), allow_put=False),
    "used_in_default_sg": Attr(to_bool, allow_put=False),
    "used_in_non_default_sg": Attr(to_bool, allow_put=False),
    "project_id": Attr(project_id, allow_put=False),  # accepted and ignored, as Neutron does
    "tenant_id": Attr(project_id, allow_put=False),
}


def template_of(row: Any) -> sgd.Template:
    return sgd.Template(
        rule=sgd.Rule(
            security_group_id=sgd.TEMPLATE_GROUP,
            direction=row["direction"],
            ethertype=row["ethertype"],
            protocol=row["protocol"],
            port_range_min=row["port_range_min"],
            port_range_max=row["port_range_max"],
            remote_ip_prefix=row["remote_ip_prefix"],
            remote_group_id=row["remote_group_id"],
        ),
        used_in_default_sg=bool(row["used_in_default_sg"]),
        used_in_non_default_sg=bool(row["used_in_non_default_sg"]),
        description=row["description"],
    )


def template_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "direction": row["direction"],
        "ethertype": row["ethertype"],
        "protocol": row["protocol"],
        "port_range_min": row["port_range_min"],
        "port_range_max": row["port_range_max"],
        "remote_ip_prefix": row["remote_ip_prefix"],
        "remote_group_id": row["remote_group_id"],
        "remote_address_group_id": None,
        "description": row["description"],
        "used_in_default_sg": bool(row["used_in_default_sg"]),
        "used_in_non_default_sg": bool(row["used_in_non_default_sg"]),
    }


def _parse(body: dict[str, Any]) -> sgd.Template:
    attrs = parse_create(body, SPEC)
    return sgd.Template(
        sgd.rule_from(sgd.TEMPLATE_GROUP, attrs),
        used_in_default_sg=attrs.get("used_in_default_sg", False),
        used_in_non_default_sg=attrs.get("used_in_non_default_sg", True),
        description=attrs.get("description") or "",
    )


class DefaultSecurityGroupRuleService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, ctx: RequestContext, template_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = repo.find_template(conn, template_id)
        if row is None or not _may_read(ctx):
            raise sgd.DefaultRuleNotFound(template_id)
        return template_view(row)

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        if not _may_read(ctx):
            return []
        with self.store.read() as conn:
            return [template_view(row) for row in repo.list_templates(conn, query)]

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_admin("create_default_security_group_rule")
        parsed = [_parse(body) for body in bodies]
        for i, template in enumerate(parsed):
            if any(sgd.templates_overlap(template, other) for other in parsed[:i]):
                raise sgd.duplicate_default_in_post()
        return self.store.write(self._create_tx, parsed)

    def _create_tx(self, tx: Tx, items: list[sgd.Template]) -> list[dict[str, Any]]:
        locks.key(tx.conn, TEMPLATES_KEY)  # two clashing templates racing: the second sees one
        for row in repo.all_templates(tx.conn):
            if any(sgd.templates_overlap(template_of(row), new) for new in items):
                raise sgd.default_rule_exists(row["id"])
        ids = [new_id() for _ in items]
        repo.insert_templates(tx.conn, list(zip(items, ids, strict=True)))
        for template_id in ids:
            tx.created(Resource.DEFAULT_SECURITY_GROUP_RULE, template_id)
        return [template_view(repo.find_template(tx.conn, i)) for i in ids]

    def update(
        self,
        ctx: RequestContext,
        template_id: str,
        body: dict[str, Any],
        if_match: int | None = None,
    ) -> dict[str, Any]:
        raise MethodNotAllowed("Method PUT is not allowed on default security group rules.")

    def delete(self, ctx: RequestContext, template_id: str, if_match: int | None = None) -> None:
        if not ctx.is_admin:  # 404 to who may not read it, 403 to a reader (as Neutron)
            self.get(ctx, template_id)
            ctx.require_admin("delete_default_security_group_rule")
        self.store.write(self._delete_tx, template_id)

    @staticmethod
    def _delete_tx(tx: Tx, template_id: str) -> None:
        if not repo.delete_template(tx.conn, template_id):
            raise sgd.DefaultRuleNotFound(template_id)
        tx.deleted(Resource.DEFAULT_SECURITY_GROUP_RULE, {"id": template_id})


def _may_read(ctx: RequestContext) -> bool:
    """Neutron's ``get_default_security_group_rule`` is ``role:reader``: any role on a project
    (roles imply reader), so not an unscoped token."""
    return ctx.is_admin or "reader" in ctx.roles
