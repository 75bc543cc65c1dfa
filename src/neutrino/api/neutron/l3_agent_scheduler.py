"""The L3 agent scheduler (extension ``l3_agent_scheduler``, admin only):
``GET/POST /v2.0/agents/{id}/l3-routers`` and ``DELETE .../l3-routers/{router_id}``; the
router's side, ``GET /v2.0/routers/{id}/l3-agents``, is in ``routers``. Adding answers 201 with
a ``null`` body, as Neutron does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, no_content, services

router = APIRouter()
AGENT = "/v2.0/agents/{agent_id}/l3-routers"


@router.get(AGENT)
async def routers_of_agent(request: Request, agent_id: str) -> Response:
    routers = services(request).l3_agents.routers_of(context(request), agent_id)
    return json_response({"routers": routers})


@router.post(AGENT)
async def add_router(request: Request, agent_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    services(request).l3_agents.add(ctx, agent_id, body)
    return json_response(None, status=201)


@router.delete(AGENT + "/{router_id}")
async def remove_router(request: Request, agent_id: str, router_id: str) -> Response:
    services(request).l3_agents.remove(context(request), agent_id, router_id)
    return no_content()
