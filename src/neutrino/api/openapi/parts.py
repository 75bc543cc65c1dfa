"""Pieces of the OpenAPI document shared by its Neutron and Keystone halves: parameters,
JSON bodies, and responses with the two error envelopes."""

from __future__ import annotations

from typing import Any

from neutrino.domain.attributes import JsonSchema

Operation = dict[str, Any]
Operations = dict[tuple[str, str], Operation]  # (path, method) -> what to set on it

WRITE_ERRORS = (400, 401, 403, 404, 409)
READ_ERRORS = (400, 401, 403, 404)
# What the request guard (api/guard.py) may answer on any route before it runs: a NUL
# character (400), a body over the limit (413), a URL over the limit (414).
GUARD_ERRORS = (400, 413, 414)

NEUTRON_ERROR: JsonSchema = {
    "type": "object",
    "required": ["NeutronError"],
    "properties": {
        "NeutronError": {
            "type": "object",
            "required": ["type", "message", "detail"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "detail": {"type": "string"},
            },
        }
    },
}
KEYSTONE_ERROR: JsonSchema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "title", "message"],
            "properties": {
                "code": {"type": "integer"},
                "title": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}
_ERROR_REFS = {
    "neutron": {"$ref": "#/components/schemas/NeutronError"},
    "keystone": {"$ref": "#/components/schemas/KeystoneError"},
}


def query(name: str, schema: JsonSchema) -> JsonSchema:
    """A query parameter; an array one is spelled by repeating the key (``?a=1&a=2``)."""
    param: JsonSchema = {"name": name, "in": "query", "required": False, "schema": schema}
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    return param


def header(name: str, schema: JsonSchema, required: bool = False) -> JsonSchema:
    return {"name": name, "in": "header", "required": required, "schema": schema}


def json_content(schema: JsonSchema) -> JsonSchema:
    return {"content": {"application/json": {"schema": schema}}}


def body(schema: JsonSchema) -> JsonSchema:
    return {"required": True, **json_content(schema)}


def member(name: str, inner: JsonSchema) -> JsonSchema:
    """``{"<name>": {...}}``, the shape of every Neutron and Keystone single-resource body."""
    return {"type": "object", "required": [name], "properties": {name: inner}}


def responses(
    success: int,
    errors: tuple[int, ...],
    *,
    keystone: bool = False,
    result: JsonSchema | None = None,
) -> JsonSchema:
    """The success status (with ``result`` unless it is 204) and each error, the guard's
    included, with its envelope: 401 is always Keystone's (it comes from the token check), the
    others follow the API."""
    out: JsonSchema = {str(success): {"description": "Success"}}
    if success != 204:
        out[str(success)].update(json_content(result or {"type": "object"}))
    for status in sorted({*errors, *GUARD_ERRORS} - {success}):
        envelope = _ERROR_REFS["keystone" if keystone or status == 401 else "neutron"]
        out[str(status)] = {"description": "Error", **json_content(envelope)}
    return out
