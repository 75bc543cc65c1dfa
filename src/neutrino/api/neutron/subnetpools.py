"""Subnet-pool member actions (extension ``subnetpool-prefix-ops``):
``PUT /v2.0/subnetpools/{id}/add_prefixes`` and ``.../remove_prefixes`` with
``{"prefixes": [cidr, ...]}``, answering the pool's prefixes after the change. The collection
itself is the generic ``collection_router``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, services

router = APIRouter()
MEMBER = "/v2.0/subnetpools/{pool_id}"


@router.put(MEMBER + "/add_prefixes")
async def add_prefixes(request: Request, pool_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).subnetpools.add_prefixes(ctx, pool_id, body))


@router.put(MEMBER + "/remove_prefixes")
async def remove_prefixes(request: Request, pool_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).subnetpools.remove_prefixes(ctx, pool_id, body))
