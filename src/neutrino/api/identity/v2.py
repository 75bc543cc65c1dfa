"""Keystone v2.0 subset over HTTP, for oVirt and older clients: ``POST /v2.0/tokens`` and
``GET /v2.0/tenants``. Only these exact paths: the rest of ``/v2.0/`` is the Neutron API.

Same tokens as v3 (``IdentityService.authenticate_v2`` maps the v2 body onto the v3 flow);
the v2 catalog is the v3 one reshaped into ``publicURL``/``internalURL``/``adminURL``, with the
identity endpoint at ``<base>/v2.0`` as v2 clients expect. Success is 200, as in Keystone v2.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from neutrino.api.http import context, json_response, member_body, services
from neutrino.common.clock import iso_seconds
from neutrino.service.identity import TokenInfo

router = APIRouter()


def _iso(epoch: float) -> str:
    return iso_seconds(dt.datetime.fromtimestamp(int(epoch), dt.UTC))


def tenant_view(project: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": project["id"],
        "name": project["name"],
        "enabled": project["enabled"],
        "description": project["description"],
    }


def catalog_v2(catalog: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    out = []
    for service in catalog:
        urls = {e["interface"]: e["url"] for e in service["endpoints"]}
        if service["type"] == "identity":
            urls = {k: f"{base}/v2.0" for k in urls}
        first = service["endpoints"][0]
        out.append(
            {
                "type": service["type"],
                "name": service["name"],
                "endpoints_links": [],
                "endpoints": [
                    {
                        "id": first["id"],
                        "region": first["region"],
                        "publicURL": urls["public"],
                        "internalURL": urls["internal"],
                        "adminURL": urls["admin"],
                    }
                ],
            }
        )
    return out


def access_view(info: TokenInfo, catalog: list[dict[str, Any]], base: str) -> dict[str, Any]:
    c = info.claims
    token: dict[str, Any] = {
        "id": info.token,
        "issued_at": _iso(c.issued_at),
        "expires": _iso(c.expires_at),
        "audit_ids": [c.audit_id],
    }
    if info.project is not None:
        token["tenant"] = tenant_view(info.project)
    return {
        "access": {
            "token": token,
            "serviceCatalog": catalog_v2(catalog, base) if info.project is not None else [],
            "user": {
                "id": c.user_id,
                "name": c.user_name,
                "username": c.user_name,
                "roles_links": [],
                "roles": [{"name": r["name"]} for r in info.roles],
            },
            "metadata": {"is_admin": 0, "roles": [r["id"] for r in info.roles]},
        }
    }


@router.post("/v2.0/tokens")
async def issue_token(request: Request) -> Response:
    auth = await member_body(request, "auth")
    svc = services(request)
    info = await run_in_threadpool(svc.identity.authenticate_v2, auth)
    return json_response(access_view(info, svc.identity.catalog(), svc.settings.base_url))


@router.get("/v2.0/tenants")
async def tenants(request: Request) -> Response:
    rows = services(request).identity.user_projects(context(request))
    return json_response({"tenants": [tenant_view(r) for r in rows], "tenants_links": []})
