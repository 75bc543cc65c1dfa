"""``/v2.0/ports/{port_id}/bindings`` in the OpenAPI document (extension
``binding-extended``): the create body from the service's spec, the in-memory list's filters
and sort keys (``domain.port_bindings.KEYS``), markers that are hosts."""

from __future__ import annotations

from neutrino.api.openapi.parts import (
    READ_ERRORS,
    WRITE_ERRORS,
    Operations,
    body,
    member,
    query,
    responses,
)
from neutrino.domain import port_bindings as rules
from neutrino.domain.attributes import Attr, JsonSchema, schema_of
from neutrino.service import port_bindings as service

FIELDS = query("fields", {"type": "array", "items": {"type": "string"}})


def _create_schema() -> JsonSchema:
    spec: dict[str, Attr] = service.SPEC
    properties = {n: schema_of(a.convert) for n, a in spec.items() if a.allow_post}
    required = [n for n, a in spec.items() if a.required]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def operations() -> Operations:
    base = "/v2.0/ports/{port_id}/bindings"
    item = base + "/{host}"
    one = {"type": "object", "required": ["binding"]}
    many = {"type": "object", "required": ["bindings"]}
    params = [query(k, {"type": "array", "items": {"type": "string"}}) for k in rules.KEYS]
    return {
        (base, "get"): {
            "parameters": [
                *params,
                FIELDS,
                query("sort_key", {"type": "array", "items": {"enum": list(rules.KEYS)}}),
                query("sort_dir", {"type": "array", "items": {"enum": ["asc", "desc"]}}),
                query("limit", {"type": "integer", "minimum": 0}),
                query("marker", {"type": "string"}),
                query("page_reverse", {"type": "boolean"}),
            ],
            "responses": responses(200, READ_ERRORS, result=many),
        },
        (base, "post"): {
            "requestBody": body(member("binding", _create_schema())),
            "responses": responses(201, WRITE_ERRORS, result=one),
        },
        (item, "get"): {
            "parameters": [FIELDS],
            "responses": responses(200, READ_ERRORS, result=one),
        },
        (item + "/activate", "put"): {"responses": responses(200, WRITE_ERRORS, result=one)},
        (item, "delete"): {"responses": responses(204, WRITE_ERRORS)},
    }
