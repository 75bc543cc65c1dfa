"""QoS routes beyond the policies' generic collection (``/v2.0/qos/policies``, made by
``collection_router`` in the app): each policy's rules by type
(``/v2.0/qos/policies/{id}/bandwidth_limit_rules`` and Neutron's other rule collections),
the rules by their id alone (``/v2.0/qos/alias-<type>-rules/{id}``), the rule types
(``/v2.0/qos/rule-types[/{type}]``) and the policies' tags.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import (
    context,
    if_match,
    json_response,
    list_query,
    member_body,
    no_content,
    select_fields,
    services,
)
from neutrino.api.neutron import tags
from neutrino.api.neutron.resources import page_links
from neutrino.common.errors import InvalidInput, NotFound
from neutrino.domain.attributes import Invalid, to_bool
from neutrino.service.qos_attrs import KINDS, RULE_COLLECTIONS

router = APIRouter()
POLICY = "/v2.0/qos/policies/{policy_id}"
# the aliases' paths: rule type -> /v2.0/qos/alias-<type with dashes>-rules/{rule_id}
ALIASES = {t: f"/v2.0/qos/alias-{t.replace('_', '-')}-rules/{{rule_id}}" for t in KINDS}


def _rule_type(rule_kind: str) -> str:
    if rule_kind not in RULE_COLLECTIONS:
        raise NotFound("The resource could not be found.")
    return RULE_COLLECTIONS[rule_kind]


# --- tags of policies (the generic tag routes take one path segment as the collection);
# before the rule routes, whose ``{collection}`` would take ``tags``

TAGGED = "qos/policies"


@router.get(POLICY + "/tags")
async def list_tags(request: Request, policy_id: str) -> Response:
    return await tags.list_tags(request, TAGGED, policy_id)


@router.get(POLICY + "/tags/{tag}")
async def check_tag(request: Request, policy_id: str, tag: str) -> Response:
    return await tags.check_tag(request, TAGGED, policy_id, tag)


@router.put(POLICY + "/tags")
async def replace_tags(request: Request, policy_id: str) -> Response:
    return await tags.replace_tags(request, TAGGED, policy_id)


@router.post(POLICY + "/tags")
async def create_tags(request: Request, policy_id: str) -> Response:
    return await tags.create_tags(request, TAGGED, policy_id)


@router.put(POLICY + "/tags/{tag}")
async def add_tag(request: Request, policy_id: str, tag: str) -> Response:
    return await tags.add_tag(request, TAGGED, policy_id, tag)


@router.delete(POLICY + "/tags")
async def remove_all(request: Request, policy_id: str) -> Response:
    return await tags.remove_all(request, TAGGED, policy_id)


@router.delete(POLICY + "/tags/{tag}")
async def remove_tag(request: Request, policy_id: str, tag: str) -> Response:
    return await tags.remove_tag(request, TAGGED, policy_id, tag)


@router.get("/v2.0/qos/rule-types")
async def rule_types(request: Request) -> Response:
    ctx = context(request)
    query = list_query(request)
    found = services(request).qos_rules.rule_types(
        ctx,
        all_supported=_flag(query.filters.get("all_supported")),
        all_rules=_flag(query.filters.get("all_rules")),
    )
    return json_response({"rule_types": select_fields(found, query.fields)})


def _flag(values: list[str] | None) -> bool:
    """A ``qos-rule-type-filter`` flag: every value given must be a boolean (else 400
    ``InvalidInput``, Neutron's converter); set when any of them is true."""
    flags = []
    for value in values or []:
        try:
            flags.append(to_bool(value))
        except Invalid as exc:
            raise InvalidInput(str(exc)) from None
    return any(flags)


@router.get("/v2.0/qos/rule-types/{rule_type}")
async def rule_type(request: Request, rule_type: str) -> Response:
    ctx = context(request)
    return json_response({"rule_type": services(request).qos_rules.rule_type(ctx, rule_type)})


@router.get(POLICY + "/{rule_kind}")
async def list_rules(request: Request, policy_id: str, rule_kind: str) -> Response:
    ctx = context(request)
    kind = _rule_type(rule_kind)
    query = list_query(request)
    items = services(request).qos_rules.search(ctx, kind, policy_id, query)
    if query.page_reverse:
        items.reverse()
    body: dict[str, Any] = {rule_kind: select_fields(items, query.fields)}
    if query.limit is not None:
        body[f"{rule_kind}_links"] = page_links(request, items, query)
    return json_response(body)


@router.post(POLICY + "/{rule_kind}")
async def create_rule(request: Request, policy_id: str, rule_kind: str) -> Response:
    ctx = context(request)
    kind = _rule_type(rule_kind)
    body = await member_body(request, rule_kind[:-1])
    created = services(request).qos_rules.create(ctx, kind, policy_id, body)
    return json_response({rule_kind[:-1]: created}, 201)


@router.get(POLICY + "/{rule_kind}/{rule_id}")
async def show_rule(request: Request, policy_id: str, rule_kind: str, rule_id: str) -> Response:
    ctx = context(request)
    kind = _rule_type(rule_kind)
    item = services(request).qos_rules.get(ctx, kind, policy_id, rule_id)
    return json_response({rule_kind[:-1]: select_fields([item], list_query(request).fields)[0]})


@router.put(POLICY + "/{rule_kind}/{rule_id}")
async def update_rule(request: Request, policy_id: str, rule_kind: str, rule_id: str) -> Response:
    ctx = context(request)
    kind = _rule_type(rule_kind)
    body = await member_body(request, rule_kind[:-1])
    updated = services(request).qos_rules.update(
        ctx, kind, policy_id, rule_id, body, if_match(request)
    )
    return json_response({rule_kind[:-1]: updated})


@router.delete(POLICY + "/{rule_kind}/{rule_id}")
async def delete_rule(request: Request, policy_id: str, rule_kind: str, rule_id: str) -> Response:
    ctx = context(request)
    kind = _rule_type(rule_kind)
    services(request).qos_rules.delete(ctx, kind, policy_id, rule_id, if_match(request))
    return no_content()


def _alias_routes(rule_type: str) -> None:
    """GET, PUT and DELETE of a rule of ``rule_type`` by its id alone (``qos-rules-alias``)."""
    path, member = ALIASES[rule_type], f"alias_{rule_type}_rule"

    async def show_alias(request: Request, rule_id: str) -> Response:
        item = services(request).qos_rules.get_alias(context(request), rule_type, rule_id)
        return json_response({member: item})

    async def update_alias(request: Request, rule_id: str) -> Response:
        ctx = context(request)
        svc = services(request).qos_rules
        body = await member_body(request, member)
        policy_id = svc.policy_of(ctx, rule_type, rule_id)
        updated = svc.update(ctx, rule_type, policy_id, rule_id, body)
        return json_response({member: updated})

    async def delete_alias(request: Request, rule_id: str) -> Response:
        ctx = context(request)
        svc = services(request).qos_rules
        svc.delete(ctx, rule_type, svc.policy_of(ctx, rule_type, rule_id), rule_id)
        return no_content()

    name = rule_type.replace("_", "-")
    router.get(path, name=f"show-alias-{name}")(show_alias)
    router.put(path, name=f"update-alias-{name}")(update_alias)
    router.delete(path, name=f"delete-alias-{name}")(delete_alias)


for _type in KINDS:
    _alias_routes(_type)
