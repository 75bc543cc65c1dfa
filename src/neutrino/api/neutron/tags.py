"""``/v2.0/{networks,subnets,ports,routers,floatingips,security-groups,subnetpools,trunks}/{id}/tags``
(and ``.../tags/{tag}``)
(extension ``standard-attr-tag``: every tagged resource Neutron has that neutrino serves;
``POST .../tags`` adding several at once is ``tag-creation``).

QoS policies' tags are at ``/v2.0/policies/{id}/tags``, where Neutron's tag extension puts
them (its collection name, without the ``qos/`` prefix; tempest and the clients use it), and
also under ``/v2.0/qos/policies/{id}/tags``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, no_content, services
from neutrino.common.errors import NotFound, excerpt
from neutrino.service.container import Services
from neutrino.service.context import RequestContext

router = APIRouter()
COLLECTIONS = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "floatingips",
    "security-groups",
    "subnetpools",
    "qos/policies",  # routed by ``api.neutron.qos``
    "trunks",
    "network_segment_ranges",
)
SERVICES = {
    "qos/policies": "qos_policies",
    "network_segment_ranges": "segment_ranges",
}  # the service of a collection not named after it
ALIASES = {
    "policies": "qos/policies",
    "network-segment-ranges": "network_segment_ranges",
}  # Neutron's tag path -> the collection


def _canonical(collection: str) -> str:
    return ALIASES.get(collection, collection)


def _member(collection: str) -> str:
    return collection.rsplit("/", 1)[-1].rstrip("s").replace("-", "_")


def _resource(svc: Services, ctx: RequestContext, collection: str, rid: str) -> dict[str, Any]:
    if collection not in COLLECTIONS:
        raise NotFound("The resource could not be found.")
    service: Any = getattr(svc, SERVICES.get(collection, collection.replace("-", "_")))
    return service.get(ctx, rid)  # type: ignore[no-any-return]


@router.get("/v2.0/{collection}/{rid}/tags")
async def list_tags(request: Request, collection: str, rid: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    return json_response({"tags": _resource(services(request), ctx, collection, rid)["tags"]})


@router.get("/v2.0/{collection}/{rid}/tags/{tag}")
async def check_tag(request: Request, collection: str, rid: str, tag: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    if tag not in _resource(services(request), ctx, collection, rid)["tags"]:
        raise NotFound(
            f"Tag {excerpt(tag)} could not be found for {_member(collection)} {excerpt(rid)}."
        )
    return no_content()


@router.put("/v2.0/{collection}/{rid}/tags")
async def replace_tags(request: Request, collection: str, rid: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    svc = services(request)
    resource = _resource(svc, ctx, collection, rid)
    body = await json_body(request)
    tags = svc.tags.replace(
        ctx, collection, resource, body.get("tags") if isinstance(body, dict) else None
    )
    return json_response({"tags": tags})


@router.post("/v2.0/{collection}/{rid}/tags")
async def create_tags(request: Request, collection: str, rid: str) -> Response:
    """tag-creation: add several tags at once, keeping those already there."""
    collection = _canonical(collection)
    ctx = context(request)
    svc = services(request)
    resource = _resource(svc, ctx, collection, rid)
    body = await json_body(request)
    tags = svc.tags.create(
        ctx, collection, resource, body.get("tags") if isinstance(body, dict) else None
    )
    return json_response({"tags": tags}, 201)


@router.put("/v2.0/{collection}/{rid}/tags/{tag}")
async def add_tag(request: Request, collection: str, rid: str, tag: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    svc = services(request)
    svc.tags.add(ctx, collection, _resource(svc, ctx, collection, rid), tag)
    return Response(status_code=201)


@router.delete("/v2.0/{collection}/{rid}/tags")
async def remove_all(request: Request, collection: str, rid: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    svc = services(request)
    svc.tags.remove(ctx, collection, _resource(svc, ctx, collection, rid), None)
    return no_content()


@router.delete("/v2.0/{collection}/{rid}/tags/{tag}")
async def remove_tag(request: Request, collection: str, rid: str, tag: str) -> Response:
    collection = _canonical(collection)
    ctx = context(request)
    svc = services(request)
    svc.tags.remove(ctx, collection, _resource(svc, ctx, collection, rid), tag)
    return no_content()
