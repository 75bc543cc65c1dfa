"""``/v2.0/ports/{port_id}/bindings`` (extension ``binding-extended``): list (filters,
``fields``, sorting, paging by host), show, create, activate and delete of a port's bindings.
HTTP only; the rules are in ``service.port_bindings``.
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
    no_content,
    select_fields,
    services,
)
from neutrino.api.neutron.resources import page_links
from neutrino.common.errors import BadRequest

router = APIRouter()
BASE = "/v2.0/ports/{port_id}/bindings"
MEMBER = "binding"
KEY = "bindings"


@router.get(BASE, operation_id="list_port_bindings")
async def list_(request: Request, port_id: str) -> Response:
    ctx = context(request)
    query = list_query(request)
    items = services(request).port_bindings.search(ctx, port_id, query)
    body: dict[str, Any] = {KEY: select_fields(items, query.fields)}
    if query.limit is not None:  # a binding's key is its host: the markers name hosts
        body[f"{KEY}_links"] = page_links(request, [{"id": b["host"]} for b in items], query)
    return json_response(body)


@router.get(BASE + "/{host}", operation_id="show_port_binding")
async def show(request: Request, port_id: str, host: str) -> Response:
    ctx = context(request)
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    item = services(request).port_bindings.get(ctx, port_id, host)
    return json_response({MEMBER: select_fields([item], fields)[0]})


@router.post(BASE, operation_id="create_port_binding")
async def create(request: Request, port_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get(MEMBER), dict):
        raise BadRequest(f"Unable to find '{MEMBER}' in request body")
    created = services(request).port_bindings.create(ctx, port_id, body[MEMBER])
    return json_response({MEMBER: created}, 201)


@router.put(BASE + "/{host}/activate", operation_id="activate_port_binding")
async def activate(request: Request, port_id: str, host: str) -> Response:
    ctx = context(request)
    activated = services(request).port_bindings.activate(ctx, port_id, host)
    return json_response({MEMBER: activated})


@router.delete(BASE + "/{host}", operation_id="delete_port_binding")
async def delete(request: Request, port_id: str, host: str) -> Response:
    ctx = context(request)
    services(request).port_bindings.delete(ctx, port_id, host)
    return no_content()
