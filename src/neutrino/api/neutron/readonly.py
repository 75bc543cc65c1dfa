"""Read-only collections without ids of their own: ``/v2.0/network-ip-availabilities``
(extension ``network-ip-availability``; an item is keyed by its ``network_id``, so paging links
carry that as the marker), ``/v2.0/availability_zones`` (extension ``availability_zone``) and
``/v2.0/service-providers`` (extension ``service-type``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_response, list_query, select_fields, services
from neutrino.api.neutron.resources import page_links

router = APIRouter()
PATH = "/v2.0/network-ip-availabilities"


@router.get(PATH)
async def list_(request: Request) -> Response:
    ctx = context(request)
    query = list_query(request)
    items = services(request).ip_availability.search(ctx, query)
    if query.page_reverse:
        items.reverse()
    body = {"network_ip_availabilities": select_fields(items, query.fields)}
    if query.limit is not None:
        keyed = [{"id": item["network_id"]} for item in items]
        body["network_ip_availabilities_links"] = page_links(request, keyed, query)
    return json_response(body)


@router.get("/v2.0/availability_zones")
async def zones(request: Request) -> Response:
    ctx = context(request)
    query = list_query(request)
    items = services(request).availability_zones.search(ctx, query)
    return json_response({"availability_zones": select_fields(items, query.fields)})


@router.get("/v2.0/service-providers")
async def service_providers(request: Request) -> Response:
    ctx = context(request)
    query = list_query(request)
    items = services(request).service_providers.search(ctx, query)
    return json_response({"service_providers": select_fields(items, query.fields)})


@router.get(PATH + "/{network_id}")
async def show(request: Request, network_id: str) -> Response:
    ctx = context(request)
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    item = services(request).ip_availability.get(ctx, network_id)
    return json_response({"network_ip_availability": select_fields([item], fields)[0]})
