"""Trunk member actions (extension ``trunk``): ``PUT /v2.0/trunks/{id}/add_subports`` and
``.../remove_subports`` with ``{"sub_ports": [...]}``, answering the trunk after the change,
and ``GET .../get_subports`` answering ``{"sub_ports": [...]}``. The collection itself is the
generic ``collection_router``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, services

router = APIRouter()
MEMBER = "/v2.0/trunks/{trunk_id}"


@router.put(MEMBER + "/add_subports")
async def add_subports(request: Request, trunk_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).trunks.add_subports(ctx, trunk_id, body))


@router.put(MEMBER + "/remove_subports")
async def remove_subports(request: Request, trunk_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).trunks.remove_subports(ctx, trunk_id, body))


@router.get(MEMBER + "/get_subports")
async def get_subports(request: Request, trunk_id: str) -> Response:
    ctx = context(request)
    return json_response(services(request).trunks.get_subports(ctx, trunk_id))
