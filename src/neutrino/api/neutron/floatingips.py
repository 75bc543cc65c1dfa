"""``GET /v2.0/floatingip-pools`` (extension ``floatingip-pools``; ``floatingip_pools`` is
accepted too, as the extension's prefix spells it): the IPv4 subnets of the external networks,
where floating IPs come from. The floating IP collection itself is the generic
``collection_router``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_response, select_fields, services

router = APIRouter()


@router.get("/v2.0/floatingip-pools", operation_id="list_floatingip_pools")
@router.get("/v2.0/floatingip_pools", operation_id="list_floatingip_pools_underscore")
async def list_pools(request: Request) -> Response:
    ctx = context(request)
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    pools = services(request).floatingips.pools(ctx)
    return json_response({"floatingip_pools": select_fields(pools, fields)})
