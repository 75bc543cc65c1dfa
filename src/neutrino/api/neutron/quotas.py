"""``/v2.0/quotas`` (extensions ``quotas`` and ``quota_details``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, no_content, services
from neutrino.common.errors import InvalidInput
from neutrino.domain.attributes import Invalid
from neutrino.domain.attributes import project_id as valid_project_id

router = APIRouter()


@router.get("/v2.0/quotas")
async def list_quotas(request: Request) -> Response:
    return json_response({"quotas": services(request).quotas.search(context(request))})


@router.get("/v2.0/quotas/{project_id}")
async def show(request: Request, project_id: str) -> Response:
    return json_response({"quota": services(request).quotas.show(context(request), project_id)})


@router.get("/v2.0/quotas/{project_id}/default")
async def show_default(request: Request, project_id: str) -> Response:
    quotas = services(request).quotas.defaults_for(context(request), project_id)
    return json_response({"quota": quotas})


@router.get("/v2.0/quotas/{project_id}/details")
async def show_details(request: Request, project_id: str) -> Response:
    quotas = services(request).quotas.details(context(request), project_id)
    return json_response({"quota": quotas})


@router.put("/v2.0/quotas/{project_id}")
async def update(request: Request, project_id: str) -> Response:
    ctx = context(request)
    try:
        valid_project_id(project_id)  # it is stored: it must fit the column
    except Invalid as exc:
        raise InvalidInput(str(exc)) from None
    body = await json_body(request)
    quota = body.get("quota") if isinstance(body, dict) else None
    return json_response({"quota": services(request).quotas.update(ctx, project_id, quota)})


@router.delete("/v2.0/quotas/{project_id}")
async def reset(request: Request, project_id: str) -> Response:
    services(request).quotas.reset(context(request), project_id)
    return no_content()
