"""One generic REST collection for Neutron resources: list, show, create (single and bulk),
update, delete, and the tag sub-resource. Each resource module supplies a service with the
``ResourceService`` methods; this module owns only HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import (
    context,
    if_match,
    json_body,
    json_response,
    list_query,
    member_body,
    no_content,
    select_fields,
)
from neutrino.common.errors import BadRequest
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext


class ResourceService(Protocol):
    def get(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]: ...
    def list(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]: ...
    def create_bulk(self, ctx: RequestContext, bodies: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]: ...
    def update(self, ctx: RequestContext, resource_id: str, body: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]: ...
    def delete(self, ctx: RequestContext, resource_id: str, if_match: int | None = None
               ) -> None: ...


def collection_router(collection: str, member: str,
                      pick: Callable[[Services], ResourceService]) -> APIRouter:
    router = APIRouter()
    path = f"/v2.0/{collection}"

    def service(request: Request) -> ResourceService:
        return pick(request.app.state.services)

    @router.get(path)
    async def list_(request: Request) -> Response:
        ctx = context(request)
        query = list_query(request)
        limit = query.limit
        if limit is not None:
            query.limit = limit + 1  # one extra row tells whether a next page exists
        items = service(request).list(ctx, query)
        body: dict[str, Any] = {}
        if limit is not None:
            more = len(items) > limit
            items = items[:limit]
            if query.page_reverse:
                items.reverse()
            body[f"{collection}_links"] = _links(request, path, items, limit, query, more)
        body[collection] = select_fields(items, query.fields)
        return json_response(body)

    @router.get(path + "/{resource_id}")
    async def show(request: Request, resource_id: str) -> Response:
        ctx = context(request)
        fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        item = service(request).get(ctx, resource_id)
        return json_response({member: select_fields([item], fields)[0]})

    @router.post(path)
    async def create(request: Request) -> Response:
        ctx = context(request)
        body = await json_body(request)
        if isinstance(body, dict) and isinstance(body.get(collection), list):
            items = body[collection]
            bodies = [i.get(member) if isinstance(i, dict) and member in i else i for i in items]
            if not bodies or not all(isinstance(b, dict) for b in bodies):
                raise BadRequest(f"Unable to find '{member}' in request body")
            return json_response({collection: service(request).create_bulk(ctx, bodies)}, 201)
        if not isinstance(body, dict) or not isinstance(body.get(member), dict):
            raise BadRequest(f"Unable to find '{member}' in request body")
        created = service(request).create_bulk(ctx, [body[member]])[0]
        return json_response({member: created}, 201)

    @router.put(path + "/{resource_id}")
    async def update(request: Request, resource_id: str) -> Response:
        ctx = context(request)
        body = await member_body(request, member)
        updated = service(request).update(ctx, resource_id, body, if_match(request))
        return json_response({member: updated})

    @router.delete(path + "/{resource_id}")
    async def delete(request: Request, resource_id: str) -> Response:
        ctx = context(request)
        service(request).delete(ctx, resource_id, if_match(request))
        return no_content()

    return router


def _links(request: Request, path: str, items: list[dict[str, Any]], limit: int,
           query: ListQuery, more: bool) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/") + path
    keep = [(k, v) for k, v in request.query_params.multi_items()
            if k not in ("marker", "page_reverse", "limit")]
    links = []
    if not items:
        return links

    def href(marker: str, reverse: bool) -> str:
        params = [*keep, ("limit", str(limit)), ("marker", marker)]
        if reverse:
            params.append(("page_reverse", "True"))
        return base + "?" + "&".join(f"{k}={v}" for k, v in params)

    if query.page_reverse:
        if more:
            links.append({"rel": "previous", "href": href(items[0]["id"], True)})
        links.append({"rel": "next", "href": href(items[-1]["id"], False)})
    else:
        if more:
            links.append({"rel": "next", "href": href(items[-1]["id"], False)})
        links.append({"rel": "previous", "href": href(items[0]["id"], True)})
    return links
