"""API discovery: ``GET /`` (versions), ``GET /v2.0/`` (oVirt's connection test), extensions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import context, json_response
from neutrino.common.errors import NotFound
from neutrino.domain.extensions import EXTENSIONS

router = APIRouter()


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/")
async def versions(request: Request) -> Response:
    return json_response(
        {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": f"{_base(request)}/v2.0/"}],
                }
            ]
        }
    )


@router.get("/v2.0")
@router.get("/v2.0/")
async def v2_root(request: Request) -> Response:
    base = _base(request)
    # Neutron lists its core collections here, in this order; extensions' collections are
    # not listed.
    resources = [
        ("network", "networks"),
        ("subnet", "subnets"),
        ("subnetpool", "subnetpools"),
        ("port", "ports"),
    ]
    return json_response(
        {
            "resources": [
                {"name": m, "collection": c, "links": [{"rel": "self", "href": f"{base}/v2.0/{c}"}]}
                for m, c in resources
            ]
        }
    )


@router.get("/v2.0/extensions")
async def extensions(request: Request) -> Response:
    context(request)
    return json_response({"extensions": [e.view() for e in EXTENSIONS]})


@router.get("/v2.0/extensions/{alias}")
async def extension(request: Request, alias: str) -> Response:
    context(request)
    for ext in EXTENSIONS:
        if ext.alias == alias:
            return json_response({"extension": ext.view()})
    raise NotFound(f"Extension with alias {alias} does not exist")
