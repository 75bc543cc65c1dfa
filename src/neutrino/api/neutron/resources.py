"""One generic REST collection for Neutron resources: list, show, create (single and bulk),
update, delete, and the tag sub-resource. Each resource module supplies a service with the
``ResourceService`` methods; this module owns only HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
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
from neutrino.common.errors import BadRequest, MethodNotAllowed
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext


class ResourceService(Protocol):
    def get(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]: ...
    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]: ...
    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]: ...
    def update(
        self,
        ctx: RequestContext,
        resource_id: str,
        body: dict[str, Any],
        if_match: int | None = None,
    ) -> dict[str, Any]: ...
    def delete(
        self, ctx: RequestContext, resource_id: str, if_match: int | None = None
    ) -> None: ...


def collection_router(
    collection: str,
    member: str,
    pick: Callable[[Services], ResourceService],
    updatable: bool = True,
    key: str | None = None,
) -> APIRouter:
    """The REST collection at ``/v2.0/<collection>``; bodies name it with underscores
    (``security-groups`` -> ``security_groups``) unless ``key`` names it (``qos/policies``:
    ``policies``). ``updatable=False`` answers PUT with 405 (immutable resources such as
    security-group rules)."""
    router = APIRouter()
    path = f"/v2.0/{collection}"
    key = key or collection.replace("-", "_")

    def service(request: Request) -> ResourceService:
        return pick(request.app.state.services)

    @router.get(path)
    async def list_(request: Request) -> Response:
        ctx = context(request)
        query = list_query(request)
        svc = service(request)
        if not query.fields and hasattr(svc, "search_json"):
            return _json_list_response(request, key, svc.search_json(ctx, query), query)
        items = svc.search(ctx, query)
        if query.page_reverse:
            items.reverse()  # fetched backwards from the marker; shown in the asked order
        body: dict[str, Any] = {key: select_fields(items, query.fields)}
        if query.limit is not None:
            body[f"{key}_links"] = page_links(request, items, query)
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
        if isinstance(body, dict) and isinstance(body.get(key), list):
            items = body[key]
            bodies: list[dict[str, Any]] = []
            for item in items:
                inner = item.get(member) if isinstance(item, dict) and member in item else item
                if not isinstance(inner, dict):
                    raise BadRequest(f"Unable to find '{member}' in request body")
                bodies.append(inner)
            if not bodies:
                raise BadRequest(f"Unable to find '{member}' in request body")
            return json_response({key: service(request).create_bulk(ctx, bodies)}, 201)
        if not isinstance(body, dict) or not isinstance(body.get(member), dict):
            raise BadRequest(f"Unable to find '{member}' in request body")
        created = service(request).create_bulk(ctx, [body[member]])[0]
        return json_response({member: created}, 201)

    @router.put(path + "/{resource_id}")
    async def update(request: Request, resource_id: str) -> Response:
        ctx = context(request)
        if not updatable:
            raise MethodNotAllowed(f"Method PUT is not allowed on {collection}.")
        body = await member_body(request, member)
        updated = service(request).update(ctx, resource_id, body, if_match(request))
        return json_response({member: updated})

    @router.delete(path + "/{resource_id}")
    async def delete(request: Request, resource_id: str) -> Response:
        ctx = context(request)
        service(request).delete(ctx, resource_id, if_match(request))
        return no_content()

    return router


def _json_list_response(
    request: Request, key: str, rendered: list[tuple[str, str]], query: ListQuery
) -> Response:
    """A list whose items the database already rendered as JSON text: join, don't re-encode."""
    if query.page_reverse:
        rendered.reverse()
    parts = [f'{{"{key}":['.encode(), ",".join(text for _, text in rendered).encode(), b"]"]
    if query.limit is not None:
        links = page_links(request, [{"id": rid} for rid, _ in rendered], query)
        parts.append(f',"{key}_links":'.encode() + orjson.dumps(links))
    parts.append(b"}")
    return Response(b"".join(parts), media_type="application/json")


def page_links(
    request: Request, items: list[dict[str, Any]], query: ListQuery
) -> list[dict[str, str]]:
    """Neutron's links: a full page always has ``next`` (so a client learns the end from an
    empty page); ``previous`` is there unless a reverse page came back short. The marker is
    the first/last item shown, or absent when the page is empty."""
    assert query.limit is not None
    base = str(request.url).split("?", 1)[0]
    keep = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")
    ]
    short = len(items) < query.limit
    links = []
    if not (short and not query.page_reverse):
        params = keep + ([("marker", items[-1]["id"])] if items else [])
        links.append({"rel": "next", "href": f"{base}?{urlencode(params)}"})
    if not (short and query.page_reverse):
        params = keep + ([("marker", items[0]["id"])] if items else [])
        params.append(("page_reverse", "True"))
        links.append({"rel": "previous", "href": f"{base}?{urlencode(params)}"})
    return links
