"""The Neutron half of the OpenAPI document, generated from what the code really accepts.

- Request bodies come from the attribute specs the services validate with (``Attr`` and the
  JSON Schema each converter declares, ``domain.attributes.schema_of``): a create body (single
  or bulk), an update body; admin-only attributes carry ``x-admin-only: true``.
- List query parameters come from the repositories' filter tables (``store.filters``): every
  filter with its type (repeat a key to OR values), plus ``fields``, ``sort_key``,
  ``sort_dir``, ``limit``, ``marker`` and ``page_reverse``.
- Responses: the success status and Neutron's ``NeutronError`` envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neutrino.api.openapi import bindings
from neutrino.api.openapi.parts import (
    NEUTRON_ERROR,
    READ_ERRORS,
    WRITE_ERRORS,
    Operations,
    body,
    header,
    member,
    query,
    responses,
)
from neutrino.domain.attributes import Attr, JsonSchema, schema_of
from neutrino.service import (
    address_groups,
    agents,
    default_security_group_rules,
    flavor_attrs,
    networks,
    port_attrs,
    qos_attrs,
    quotas,
    rbac,
    segment_ranges,
    segments,
    subnet_attrs,
    subnetpool_attrs,
    trunks,
)
from neutrino.service import security_groups as sg
from neutrino.service.routers import attributes as router_attrs
from neutrino.service.routers import floatingips
from neutrino.service.routers import port_forwardings as pf
from neutrino.store import filters
from neutrino.store import port_forwardings as pf_repo

TAG_COLLECTIONS = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "floatingips",
    "security-groups",
    "subnetpools",
    "trunks",
    "network_segment_ranges",
)


@dataclass(frozen=True)
class Collection:
    """One ``/v2.0/<name>`` collection: its body member and the spec its service parses."""

    name: str
    member: str
    spec: Mapping[str, Attr]
    creatable: bool = True
    updatable: bool = True
    plural: str = ""  # the bodies' plural when not the path's (``qos/policies``: policies)

    @property
    def key(self) -> str:
        return self.plural or self.name.replace("-", "_")


COLLECTIONS = (
    Collection("ports", "port", port_attrs.SPEC),
    Collection("networks", "network", networks.SPEC),
    Collection("subnets", "subnet", subnet_attrs.SPEC),
    Collection("security-groups", "security_group", sg.GROUP_SPEC),
    Collection("security-group-rules", "security_group_rule", sg.RULE_SPEC, updatable=False),
    Collection(
        "default-security-group-rules",
        "default_security_group_rule",
        default_security_group_rules.SPEC,
        updatable=False,
    ),
    Collection("routers", "router", router_attrs.SPEC),
    Collection("floatingips", "floatingip", floatingips.SPEC),
    Collection("agents", "agent", agents.SPEC, creatable=False),
    Collection("rbac-policies", "rbac_policy", rbac.SPEC),
    Collection("subnetpools", "subnetpool", subnetpool_attrs.POOL_SPEC),
    Collection("address-scopes", "address_scope", subnetpool_attrs.SCOPE_SPEC),
    Collection("address-groups", "address_group", address_groups.SPEC),
    Collection("qos/policies", "policy", qos_attrs.POLICY_SPEC, plural="policies"),
    Collection("trunks", "trunk", trunks.SPEC),
    Collection("segments", "segment", segments.SPEC),
    Collection("flavors", "flavor", flavor_attrs.FLAVOR_SPEC),
    Collection("service_profiles", "service_profile", flavor_attrs.PROFILE_SPEC),
    Collection("network_segment_ranges", "network_segment_range", segment_ranges.SPEC),
)
IF_MATCH = header("If-Match", {"type": "string", "pattern": "^revision_number=[0-9]+$"})
FIELDS = query("fields", {"type": "array", "items": {"type": "string"}})


def attributes_schema(spec: Mapping[str, Attr], *, create: bool) -> JsonSchema:
    """The object a create (``create=True``) or an update may send for one resource (with
    the spec's admin-only marks)."""
    properties: dict[str, JsonSchema] = {}
    required = []
    for name, attr in spec.items():
        if not (attr.allow_post if create else attr.allow_put):
            continue
        prop = schema_of(attr.convert)
        if attr.admin_only:
            prop["x-admin-only"] = True
        properties[name] = prop
        if create and attr.required:
            required.append(name)
    schema: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def create_body(c: Collection) -> JsonSchema:
    single = attributes_schema(c.spec, create=True)
    bulk = {
        "type": "object",
        "required": [c.key],
        "properties": {c.key: {"type": "array", "minItems": 1, "items": single}},
    }
    return {"oneOf": [member(c.member, single), bulk]}


def list_parameters(collection: str) -> list[JsonSchema]:
    return _list_parameters(filters.filters(collection))


def _list_parameters(described: list[filters.Filter]) -> list[JsonSchema]:
    params = []
    sortable = []
    for f in described:
        item: JsonSchema = {"type": f.json_type}
        if f.format:
            item["format"] = f.format
        params.append(query(f.name, {"type": "array", "items": item}))
        if f.sortable:
            sortable.append(f.name)
    return [
        *params,
        FIELDS,
        query("sort_key", {"type": "array", "items": {"enum": sortable}}),
        query("sort_dir", {"type": "array", "items": {"enum": ["asc", "desc"]}}),
        query("limit", {"type": "integer", "minimum": 0}),
        query("marker", {"type": "string", "format": "uuid"}),
        query("page_reverse", {"type": "boolean"}),
    ]


def collection_operations(c: Collection) -> Operations:
    base = f"/v2.0/{c.name}"
    item = base + "/{resource_id}"
    one = {"type": "object", "required": [c.member]}
    many = {"type": "object", "required": [c.key]}
    not_allowed = {"responses": responses(405, (400, 401), result=NEUTRON_ERROR)}
    ops: Operations = {
        (base, "get"): {
            "parameters": list_parameters(c.name),
            "responses": responses(200, READ_ERRORS, result=many),
        },
        (item, "get"): {
            "parameters": [FIELDS],
            "responses": responses(200, READ_ERRORS, result=one),
        },
        (item, "delete"): {
            "parameters": [IF_MATCH],
            "responses": responses(204, (*WRITE_ERRORS, 412)),
        },
        (base, "post"): not_allowed,
        (item, "put"): not_allowed,
    }
    if c.creatable:
        ops[(base, "post")] = {
            "requestBody": body(create_body(c)),
            "responses": responses(201, WRITE_ERRORS),
        }
    if c.updatable:
        update = member(c.member, attributes_schema(c.spec, create=False))
        ops[(item, "put")] = {
            "parameters": [IF_MATCH],
            "requestBody": body(update),
            "responses": responses(200, (*WRITE_ERRORS, 412), result=one),
        }
    return ops


def extra_operations() -> Operations:
    """Router and subnet-pool actions, tags, quotas and floating-IP pools."""
    router = "/v2.0/routers/{router_id}"
    interface = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "subnet_id": {"type": "string", "format": "uuid"},
            "port_id": {"type": "string", "format": "uuid"},
        },
    }
    routes = member("router", attributes_schema(router_attrs.ROUTES_SPEC, create=True))
    tags = "/v2.0/{collection}/{rid}/tags"
    tag_list = {
        "type": "object",
        "required": ["tags"],
        "properties": {"tags": {"type": "array", "items": {"type": "string", "maxLength": 255}}},
    }
    limits = {
        r: {"type": "integer", "minimum": -1, "maximum": quotas.MAX_LIMIT} for r in quotas.RESOURCES
    }
    quota = member(
        "quota",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {**limits, "force": {"type": "boolean"}, "check_limit": {}},
        },
    )
    ops: Operations = {
        (tags, "get"): {"responses": responses(200, READ_ERRORS)},
        (tags, "put"): {"requestBody": body(tag_list), "responses": responses(200, WRITE_ERRORS)},
        (tags, "post"): {"requestBody": body(tag_list), "responses": responses(201, WRITE_ERRORS)},
        (tags, "delete"): {"responses": responses(204, WRITE_ERRORS)},
        (tags + "/{tag}", "get"): {"responses": responses(204, READ_ERRORS)},
        (tags + "/{tag}", "put"): {"responses": responses(201, WRITE_ERRORS)},
        (tags + "/{tag}", "delete"): {"responses": responses(204, WRITE_ERRORS)},
        ("/v2.0/quotas/{project_id}", "put"): {
            "requestBody": body(quota),
            "responses": responses(200, WRITE_ERRORS),
        },
        ("/v2.0/quotas/{project_id}", "delete"): {"responses": responses(204, WRITE_ERRORS)},
    }
    pool_prefixes = {
        "type": "object",
        "required": ["prefixes"],
        "properties": {"prefixes": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
    }
    scheduled = {
        "type": "object",
        "required": ["network_id"],
        "properties": {"network_id": {"type": "string", "minLength": 1}},
    }
    ops[("/v2.0/agents/{agent_id}/dhcp-networks", "post")] = {
        "requestBody": body(scheduled),
        "responses": responses(201, WRITE_ERRORS),
    }
    ops[("/v2.0/agents/{agent_id}/dhcp-networks/{network_id}", "delete")] = {
        "responses": responses(204, WRITE_ERRORS)
    }
    hosted = {
        "type": "object",
        "required": ["router_id"],
        "properties": {"router_id": {"type": "string", "minLength": 1}},
    }
    ops[("/v2.0/agents/{agent_id}/l3-routers", "post")] = {
        "requestBody": body(hosted),
        "responses": responses(201, WRITE_ERRORS),
    }
    ops[("/v2.0/agents/{agent_id}/l3-routers/{router_id}", "delete")] = {
        "responses": responses(204, WRITE_ERRORS)
    }
    for action in ("add_prefixes", "remove_prefixes"):
        ops[(f"/v2.0/subnetpools/{{pool_id}}/{action}", "put")] = {
            "requestBody": body(pool_prefixes),
            "responses": responses(200, WRITE_ERRORS),
        }
    group_addresses = {
        "type": "object",
        "required": ["addresses"],
        "properties": {"addresses": {"type": "array", "items": {"type": "string"}}},
        "additionalProperties": False,
    }
    for action in ("add_addresses", "remove_addresses"):
        ops[(f"/v2.0/address-groups/{{group_id}}/{action}", "put")] = {
            "requestBody": body(group_addresses),
            "responses": responses(200, WRITE_ERRORS),
        }
    trunk = "/v2.0/trunks/{trunk_id}"
    for action in ("add_subports", "remove_subports"):
        ops[(f"{trunk}/{action}", "put")] = {
            "requestBody": body(attributes_schema(trunks.ACTION_SPEC, create=True)),
            "responses": responses(200, WRITE_ERRORS),
        }
    ops[(f"{trunk}/get_subports", "get")] = {"responses": responses(200, READ_ERRORS)}
    bindings = "/v2.0/flavors/{flavor_id}/service_profiles"
    ops[(bindings, "post")] = {
        "requestBody": body(
            member("service_profile", attributes_schema(flavor_attrs.BINDING_SPEC, create=True))
        ),
        "responses": responses(201, WRITE_ERRORS),
    }
    ops[(bindings + "/{profile_id}", "delete")] = {"responses": responses(204, WRITE_ERRORS)}

    topology = "/v2.0/auto-allocated-topology/{project_id}"
    ops[(topology, "get")] = {
        "parameters": [FIELDS],
        "responses": responses(200, (*READ_ERRORS, 409)),
    }
    ops[(topology, "delete")] = {"responses": responses(204, WRITE_ERRORS)}
    for action, schema in (
        ("add_router_interface", interface),
        ("remove_router_interface", interface),
        ("add_extraroutes", routes),
        ("remove_extraroutes", routes),
    ):
        ops[(f"{router}/{action}", "put")] = {
            "requestBody": body(schema),
            "responses": responses(200, WRITE_ERRORS),
        }
    return ops


def forwarding_operations() -> Operations:
    """``/v2.0/floatingips/{fip_id}/port_forwardings``: a sub-collection, single creates."""
    base = "/v2.0/floatingips/{fip_id}/port_forwardings"
    item = base + "/{pf_id}"
    one = {"type": "object", "required": ["port_forwarding"]}
    return {
        (base, "get"): {
            "parameters": _list_parameters(filters.describe(pf_repo.COLUMNS, pf_repo.HOOKS)),
            "responses": responses(200, READ_ERRORS, result={"type": "object"}),
        },
        (base, "post"): {
            "requestBody": body(member("port_forwarding", attributes_schema(pf.SPEC, create=True))),
            "responses": responses(201, WRITE_ERRORS, result=one),
        },
        (item, "get"): {
            "parameters": [FIELDS],
            "responses": responses(200, READ_ERRORS, result=one),
        },
        (item, "put"): {
            "requestBody": body(
                member("port_forwarding", attributes_schema(pf.SPEC, create=False))
            ),
            "responses": responses(200, WRITE_ERRORS, result=one),
        },
        (item, "delete"): {"responses": responses(204, WRITE_ERRORS)},
    }


def operations() -> Operations:
    ops: Operations = {}
    for c in COLLECTIONS:
        ops.update(collection_operations(c))
    ops.update(extra_operations())
    ops.update(qos_operations())
    ops.update(forwarding_operations())
    ops.update(bindings.operations())
    return ops


def qos_operations() -> Operations:
    """A policy's rules (by kind, and by the alias), and its tags."""
    rules = "/v2.0/qos/policies/{policy_id}/{rule_kind}"
    rule = rules + "/{rule_id}"
    kinds = qos_attrs.KINDS.values()
    create = {"anyOf": [member(k.member, attributes_schema(k.spec, create=True)) for k in kinds]}
    update = {
        "anyOf": [member(k.member, attributes_schema(k.update_spec, create=False)) for k in kinds]
    }
    tags = "/v2.0/qos/policies/{policy_id}/tags"
    tag_list = {
        "type": "object",
        "required": ["tags"],
        "properties": {"tags": {"type": "array", "items": {"type": "string", "maxLength": 255}}},
    }
    return {
        (rules, "get"): {
            "parameters": list_parameters(rules.removeprefix("/v2.0/")),
            "responses": responses(200, READ_ERRORS),
        },
        (rules, "post"): {"requestBody": body(create), "responses": responses(201, WRITE_ERRORS)},
        (rule, "get"): {"parameters": [FIELDS], "responses": responses(200, READ_ERRORS)},
        (rule, "put"): {"requestBody": body(update), "responses": responses(200, WRITE_ERRORS)},
        (rule, "delete"): {"responses": responses(204, WRITE_ERRORS)},
        **alias_operations(),
        (tags, "put"): {"requestBody": body(tag_list), "responses": responses(200, WRITE_ERRORS)},
        (tags, "post"): {"requestBody": body(tag_list), "responses": responses(201, WRITE_ERRORS)},
        (tags, "delete"): {"responses": responses(204, WRITE_ERRORS)},
        (tags + "/{tag}", "put"): {"responses": responses(201, WRITE_ERRORS)},
        (tags + "/{tag}", "delete"): {"responses": responses(204, WRITE_ERRORS)},
        (tags + "/{tag}", "get"): {"responses": responses(204, READ_ERRORS)},
    }


def alias_operations() -> Operations:
    """The rules by their id alone (``qos-rules-alias``): an update body per rule type."""
    ops: Operations = {}
    for kind in qos_attrs.KINDS.values():
        alias = f"/v2.0/qos/alias-{kind.type.replace('_', '-')}-rules/{{rule_id}}"
        update = attributes_schema(kind.update_spec, create=False)
        ops[(alias, "put")] = {
            "requestBody": body(member(f"alias_{kind.member}", update)),
            "responses": responses(200, WRITE_ERRORS),
        }
        ops[(alias, "delete")] = {"responses": responses(204, WRITE_ERRORS)}
    return ops
