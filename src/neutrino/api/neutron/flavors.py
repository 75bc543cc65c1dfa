"""Binding service profiles to flavors (extension ``flavors``):
``POST /v2.0/flavors/{id}/service_profiles`` with ``{"service_profile": {"id": ...}}``
(201, the profile's id back, as Neutron's API reference shows) and
``DELETE /v2.0/flavors/{id}/service_profiles/{profile_id}`` (204). The flavors and profiles
themselves are generic collections (``collection_router``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, no_content, services

router = APIRouter()
BINDINGS = "/v2.0/flavors/{flavor_id}/service_profiles"


@router.post(BINDINGS)
async def bind(request: Request, flavor_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    bound = services(request).flavors.bind(ctx, flavor_id, body)
    return json_response({"service_profile": bound}, 201)


@router.delete(BINDINGS + "/{profile_id}")
async def unbind(request: Request, flavor_id: str, profile_id: str) -> Response:
    ctx = context(request)
    services(request).flavors.unbind(ctx, flavor_id, profile_id)
    return no_content()
