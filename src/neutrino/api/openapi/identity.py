"""The Keystone half of the OpenAPI document: ``/v3`` (auth, domains, projects, users, roles,
grants, role assignments) and the v2.0 subset (``/v2.0/tokens``, ``/v2.0/tenants``).

Keystone's bodies have no attribute specs in our code (the identity service reads the few
fields it knows, ``PROJECT_FIELDS``/``USER_FIELDS``), so their schemas are written here, built
from those field lists; every error is Keystone's ``{"error": {...}}`` envelope.
"""

from __future__ import annotations

from neutrino.api.openapi.parts import (
    Operations,
    body,
    header,
    member,
    query,
    responses,
)
from neutrino.domain.attributes import JsonSchema
from neutrino.service.identity.resources import PROJECT_FIELDS, USER_FIELDS

NAME: JsonSchema = {"type": "string", "minLength": 1, "maxLength": 255}
ID: JsonSchema = {"type": "string", "maxLength": 64}
_FIELD_TYPES: dict[str, JsonSchema] = {
    "description": {"type": "string"},
    "enabled": {"type": "boolean"},
    "password": {"type": "string"},
    "default_project_id": ID,
    "email": {"type": "string"},
}
DOMAIN_REF: JsonSchema = {
    "type": "object",
    "minProperties": 1,
    "properties": {"id": ID, "name": NAME},
}
USER_REF: JsonSchema = {
    "type": "object",
    "required": ["password"],
    "properties": {"id": ID, "name": NAME, "domain": DOMAIN_REF, "password": {"type": "string"}},
}
PROJECT_REF: JsonSchema = {
    "type": "object",
    "minProperties": 1,
    "properties": {"id": ID, "name": NAME, "domain": DOMAIN_REF},
}
AUTH_V3: JsonSchema = member(
    "auth",
    {
        "type": "object",
        "required": ["identity"],
        "properties": {
            "identity": {
                "type": "object",
                "required": ["methods"],
                "properties": {
                    "methods": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"enum": ["password", "token"]},
                    },
                    "password": {
                        "type": "object",
                        "required": ["user"],
                        "properties": {"user": USER_REF},
                    },
                    "token": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {"id": {"type": "string"}},
                    },
                },
            },
            "scope": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["project"],
                        "properties": {"project": PROJECT_REF},
                    },
                    {"const": "unscoped"},
                ]
            },
        },
    },
)
AUTH_V2: JsonSchema = member(
    "auth",
    {
        "type": "object",
        "properties": {
            "passwordCredentials": {
                "type": "object",
                "required": ["password"],
                "properties": {
                    "username": {"type": "string"},
                    "userId": ID,
                    "password": {"type": "string"},
                },
            },
            "token": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}},
            },
            "tenantName": {"type": "string"},
            "tenantId": ID,
        },
    },
)


def _fields(names: tuple[str, ...]) -> dict[str, JsonSchema]:
    return {name: _FIELD_TYPES[name] for name in names}


def _resource(name: str, fields: dict[str, JsonSchema], *, create: bool) -> JsonSchema:
    inner: JsonSchema = {"type": "object", "properties": {"name": NAME, **fields}}
    if create:
        inner["required"] = ["name"]
    return member(name, inner)


def _ok(status: int, errors: tuple[int, ...]) -> JsonSchema:
    return responses(status, errors, keystone=True)


def operations() -> Operations:
    subject = [header("X-Subject-Token", {"type": "string", "minLength": 1}, required=True)]
    project = {**_fields(PROJECT_FIELDS), "domain_id": ID}
    user = {**_fields(USER_FIELDS), "domain_id": ID}
    list_filters = [
        query("name", {"type": "string"}),
        query("domain_id", ID),
        query("enabled", {"type": "boolean"}),
    ]
    reads, writes = (401, 403, 404), (400, 401, 403, 404, 409)
    ops: Operations = {
        ("/v3/auth/tokens", "post"): {
            "requestBody": body(AUTH_V3),
            "security": [],
            "responses": _ok(201, (400, 401, 404)),
        },
        ("/v3/auth/tokens", "get"): {"parameters": subject, "responses": _ok(200, reads)},
        ("/v3/auth/tokens", "head"): {"parameters": subject, "responses": _ok(200, reads)},
        ("/v3/auth/tokens", "delete"): {"parameters": subject, "responses": _ok(204, reads)},
        ("/v3/domains", "get"): {
            "parameters": [query("name", {"type": "string"})],
            "responses": _ok(200, reads),
        },
        ("/v3/projects", "get"): {"parameters": list_filters, "responses": _ok(200, reads)},
        ("/v3/users", "get"): {"parameters": list_filters, "responses": _ok(200, reads)},
        ("/v3/roles", "get"): {
            "parameters": [query("name", {"type": "string"})],
            "responses": _ok(200, reads),
        },
        ("/v3/role_assignments", "get"): {
            "parameters": [
                query("user.id", ID),
                query("scope.project.id", ID),
                query("role.id", ID),
                query("include_names", {"type": "boolean"}),
                query("effective", {"type": "boolean"}),
            ],
            "responses": _ok(200, reads),
        },
        ("/v2.0/tokens", "post"): {
            "requestBody": body(AUTH_V2),
            "security": [],
            "responses": _ok(200, (400, 401, 404)),
        },
    }
    for kind, fields in (("project", project), ("user", user), ("role", {})):
        base = f"/v3/{kind}s"
        ops[(base, "post")] = {
            "requestBody": body(_resource(kind, fields, create=True)),
            "responses": _ok(201, writes),
        }
        item = f"{base}/{{{kind}_id}}"
        ops[(item, "delete")] = {"responses": _ok(204, writes)}
        if kind != "role":
            ops[(item, "patch")] = {
                "requestBody": body(_resource(kind, fields, create=False)),
                "responses": _ok(200, writes),
            }
    grant = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"
    for method in ("put", "head", "delete"):
        ops[(grant, method)] = {"responses": _ok(204, writes)}
    return ops
