"""``/v2.0/auto-allocated-topology/{project_id}`` (extension ``auto-allocated-topology``):
``GET`` (``?fields=dry-run`` checks only) and ``DELETE``; the rules are in
``service.auto_allocate``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_response, no_content, services

router = APIRouter()
PATH = "/v2.0/auto-allocated-topology/{project_id}"


@router.get(PATH)
async def show(request: Request, project_id: str) -> Response:
    ctx = context(request)
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    topology = services(request).auto_allocate.get(ctx, project_id, fields)
    return json_response({"auto_allocated_topology": topology})


@router.delete(PATH)
async def delete(request: Request, project_id: str) -> Response:
    ctx = context(request)
    services(request).auto_allocate.delete(ctx, project_id)
    return no_content()
