"""Router member actions (``/v2.0/routers/{id}/...``): add/remove an interface and the
``extraroute-atomic`` add/remove of extra routes. The collection itself (list, show, create,
update, delete) is the generic ``collection_router``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, member_body, services

router = APIRouter()
MEMBER = "/v2.0/routers/{router_id}"


@router.get(MEMBER + "/l3-agents")
async def l3_agents(request: Request, router_id: str) -> Response:
    """The L3 agents hosting the router (``l3_agent_scheduler``; ``ha_state`` with l3-ha)."""
    ctx = context(request)
    return json_response({"agents": services(request).l3_agents.hosting(ctx, router_id)})


@router.put(MEMBER + "/add_router_interface")
async def add_router_interface(request: Request, router_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).routers.add_interface(ctx, router_id, body))


@router.put(MEMBER + "/remove_router_interface")
async def remove_router_interface(request: Request, router_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    return json_response(services(request).routers.remove_interface(ctx, router_id, body))


@router.put(MEMBER + "/add_extraroutes")
async def add_extraroutes(request: Request, router_id: str) -> Response:
    ctx = context(request)
    body = await member_body(request, "router")
    return json_response(
        {"router": services(request).routers.add_extraroutes(ctx, router_id, body)}
    )


@router.put(MEMBER + "/remove_extraroutes")
async def remove_extraroutes(request: Request, router_id: str) -> Response:
    ctx = context(request)
    body = await member_body(request, "router")
    return json_response(
        {"router": services(request).routers.remove_extraroutes(ctx, router_id, body)}
    )
