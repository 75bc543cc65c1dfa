"""``/v2.0/floatingips/{fip_id}/port_forwardings`` (extension ``floating-ip-port-forwarding``):
list (filters, ``fields``, sorting, paging with Neutron's links), show, create, update and
delete of a floating IP's port forwardings. HTTP only; the rules are in
``service.routers.port_forwardings``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import (
    context,
    json_body,
    json_response,
    list_query,
    member_body,
    no_content,
    select_fields,
    services,
)
from neutrino.api.neutron.resources import page_links
from neutrino.common.errors import BadRequest

router = APIRouter()
BASE = "/v2.0/floatingips/{fip_id}/port_forwardings"
MEMBER = "port_forwarding"
KEY = "port_forwardings"


@router.get(BASE, operation_id="list_port_forwardings")
async def list_(request: Request, fip_id: str) -> Response:
    ctx = context(request)
    query = list_query(request)
    items = services(request).port_forwardings.search(ctx, fip_id, query)
    if query.page_reverse:
        items.reverse()
    body: dict[str, Any] = {KEY: select_fields(items, query.fields)}
    if query.limit is not None:
        body[f"{KEY}_links"] = page_links(request, items, query)
    return json_response(body)


@router.get(BASE + "/{pf_id}", operation_id="show_port_forwarding")
async def show(request: Request, fip_id: str, pf_id: str) -> Response:
    ctx = context(request)
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    item = services(request).port_forwardings.get(ctx, fip_id, pf_id)
    return json_response({MEMBER: select_fields([item], fields)[0]})


@router.post(BASE, operation_id="create_port_forwarding")
async def create(request: Request, fip_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get(MEMBER), dict):
        raise BadRequest(f"Unable to find '{MEMBER}' in request body")
    created = services(request).port_forwardings.create(ctx, fip_id, body[MEMBER])
    return json_response({MEMBER: created}, 201)


@router.put(BASE + "/{pf_id}", operation_id="update_port_forwarding")
async def update(request: Request, fip_id: str, pf_id: str) -> Response:
    ctx = context(request)
    body = await member_body(request, MEMBER)
    updated = services(request).port_forwardings.update(ctx, fip_id, pf_id, body)
    return json_response({MEMBER: updated})


@router.delete(BASE + "/{pf_id}", operation_id="delete_port_forwarding")
async def delete(request: Request, fip_id: str, pf_id: str) -> Response:
    ctx = context(request)
    services(request).port_forwardings.delete(ctx, fip_id, pf_id)
    return no_content()
