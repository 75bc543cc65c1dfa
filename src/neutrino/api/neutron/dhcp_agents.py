"""The DHCP agent scheduler (extension ``dhcp_agent_scheduler``, admin only):
``GET/POST /v2.0/agents/{id}/dhcp-networks``, ``DELETE .../dhcp-networks/{network_id}`` and
``GET /v2.0/networks/{id}/dhcp-agents``. Adding answers 201 with a ``null`` body, as
Neutron does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, no_content, services

router = APIRouter()
AGENT = "/v2.0/agents/{agent_id}/dhcp-networks"


@router.get(AGENT)
async def networks_of_agent(request: Request, agent_id: str) -> Response:
    networks = services(request).dhcp_agents.networks_of(context(request), agent_id)
    return json_response({"networks": networks})


@router.post(AGENT)
async def add_network(request: Request, agent_id: str) -> Response:
    ctx = context(request)
    body = await json_body(request)
    services(request).dhcp_agents.add(ctx, agent_id, body)
    return json_response(None, status=201)


@router.delete(AGENT + "/{network_id}")
async def remove_network(request: Request, agent_id: str, network_id: str) -> Response:
    services(request).dhcp_agents.remove(context(request), agent_id, network_id)
    return no_content()


@router.get("/v2.0/networks/{network_id}/dhcp-agents")
async def agents_of_network(request: Request, network_id: str) -> Response:
    agents = services(request).dhcp_agents.agents_of(context(request), network_id)
    return json_response({"agents": agents})
