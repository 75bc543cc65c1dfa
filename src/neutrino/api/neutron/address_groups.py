"""Address-group member actions (extension ``address-group``):
``PUT /v2.0/address-groups/{id}/add_addresses`` and ``.../remove_addresses`` with
``{"addresses": [cidr, ...]}``, answering ``{"address_group": {...}}`` after the change. The
collection itself is the generic ``collection_router``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, services

router = APIRouter()
MEMBER = "/v2.0/address-groups/{group_id}"


@router.put(MEMBER + "/add_addresses")
async def add_addresses(request: Request, group_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).address_groups.add_addresses(ctx, group_id, body))


@router.put(MEMBER + "/remove_addresses")
async def remove_addresses(request: Request, group_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).address_groups.remove_addresses(ctx, group_id, body))
