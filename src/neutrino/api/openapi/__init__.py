"""The published OpenAPI document (``GET /openapi.json``).

The endpoints take a raw ``Request`` (Neutron's wire shape is not a Pydantic model's), so
FastAPI alone knows only the paths and their path ids. ``install`` replaces ``app.openapi``
with ``build``: FastAPI's document, then for each operation what the code really accepts and
answers, from :mod:`.neutron` (generated from the attribute specs and filter tables) and
:mod:`.identity` (Keystone); operations neither names (version documents, read-only lists)
get the generic read responses. An extension's route (the vmm's ``/vmm/v1``) may describe
itself under ``x-operation`` (its ``openapi_extra``); that description is used the same way.

Every operation needs ``X-Auth-Token`` (security scheme ``token``) except the version
documents and token issue. The agent API (``/agent/v1``) is tagged ``internal`` with
``x-internal: true``: it is the controller's contract with its own agents, not a public API;
the public fuzz leaves it out. The document is built once per app and cached.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from neutrino.api.openapi import identity, neutron
from neutrino.api.openapi.parts import (
    KEYSTONE_ERROR,
    NEUTRON_ERROR,
    READ_ERRORS,
    Operation,
    responses,
)
from neutrino.domain.attributes import JsonSchema

INTERNAL_PREFIX = "/agent/v1"
VMM_PREFIX = "/vmm/v1"
SELF_DESCRIBED = "x-operation"  # an extension route's own description (see ``_described``)
PUBLIC_PATHS = frozenset({"/", "/v2.0", "/v2.0/", "/v3", "/v3/"})  # version documents


def is_keystone(path: str) -> bool:
    return path.startswith("/v3") or path in ("/v2.0/tokens", "/v2.0/tenants")


def build(app: FastAPI) -> JsonSchema:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        routes=app.routes,
        description="Neutron v2.0 and Keystone (v3, v2.0 tokens) compatible API.",
    )
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(
        NeutronError=NEUTRON_ERROR, KeystoneError=KEYSTONE_ERROR
    )
    components["securitySchemes"] = {
        "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    }
    doc["tags"] = [
        {"name": "networking", "description": "Neutron v2.0"},
        {"name": "identity", "description": "Keystone v3 and v2.0 tokens"},
        {"name": "internal", "description": "The agent API: for neutrino's own agents only"},
        {"name": "vmm", "description": "The manager side: providers, networks, VMs (/vmm/v1)"},
    ]
    overrides = {**neutron.operations(), **identity.operations()}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            described = op.pop(SELF_DESCRIBED, None)
            _refine(path, op, overrides.get((path, method)) or _described(op, described))
    return doc


def _described(op: Operation, described: JsonSchema | None) -> Operation | None:
    """An extension's route that describes itself (``x-operation``: summary, description,
    parameters, request body, success status and result, error statuses), as an override."""
    if described is None:
        return None
    for key in ("summary", "description"):
        if key in described:
            op[key] = described[key]
    out: Operation = {
        "parameters": described.get("parameters", []),
        "responses": responses(
            described["success"], tuple(described["errors"]), result=described.get("result")
        ),
    }
    if "requestBody" in described:
        out["requestBody"] = described["requestBody"]
    return out


def _refine(path: str, op: Operation, override: Operation | None) -> None:
    if override is not None:
        path_params = [p for p in op.get("parameters", []) if p["in"] == "path"]
        op["parameters"] = path_params + override.get("parameters", [])
        for key in ("requestBody", "responses", "security"):
            if key in override:
                op[key] = override[key]
    else:
        errors = () if path in PUBLIC_PATHS else READ_ERRORS
        op["responses"] = responses(200, errors, keystone=is_keystone(path))
    if not op.get("parameters"):
        op.pop("parameters", None)
    for param in op.get("parameters", []):
        if param["in"] == "path" and param["name"] == "collection":
            param["schema"] = {"enum": list(neutron.TAG_COLLECTIONS)}
    op.setdefault("security", [] if path in PUBLIC_PATHS else [{"token": []}])
    if path.startswith(INTERNAL_PREFIX):
        op["tags"] = ["internal"]
        op["x-internal"] = True
    elif path.startswith(VMM_PREFIX):
        op["tags"] = ["vmm"]
    else:
        op["tags"] = ["identity" if is_keystone(path) else "networking"]


def install(app: FastAPI) -> None:
    def openapi() -> JsonSchema:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
