"""``/ui/topology``: the page, its SVG alone (what the live script swaps in), and the long-poll
that tells the script something changed.

The long-poll waits on the change log (``Store.wait_for_change``) in a worker thread bounded by
its own limiter, as the agent API's long-polls do, so waiting browsers never hold the event loop
or anyio's default thread pool. It answers the new revision (or the old one after ``timeout``);
the script then fetches the SVG of its page again. Long-poll rather than server-sent events:
one short request per change works through any proxy. The wait runs in one-second slices and
checks between them whether the browser is still there, so one that went away (a closed tab,
a server shutting down its connections) holds a thread for at most a second.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import anyio
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import JSONResponse, Response

from neutrino.common.errors import BadRequest
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.web.render import guarded, page
from neutrino.web.session import current, services
from neutrino.web.topology import lay_out, page_networks
from neutrino.web.topology_svg import render as svg_text

router = APIRouter()
MAX_WAIT = 25.0
MAX_WAITERS = 256
SLICE = 1.0


def render_svg(
    svc: Services,
    ctx: RequestContext,
    page_number: int,
    networks: list[dict[str, Any]] | None = None,
) -> str:
    """The SVG of one page, as the browser gets it (``networks``: all the caller sees, when
    the caller has them already)."""
    revision = svc.store.current_revision()
    if networks is None:
        networks = svc.networks.search(ctx, ListQuery())
    shown, _, _ = page_networks(networks, page_number)
    on_page = ListQuery(filters={"network_id": [n["id"] for n in shown]}) if shown else None
    subnets = svc.subnets.search(ctx, on_page) if on_page else []
    ports = svc.ports.search(ctx, on_page) if on_page else []
    picture = lay_out(
        networks,
        subnets,
        ports,
        svc.routers.search(ctx, ListQuery()),
        svc.floatingips.search(ctx, ListQuery()),
        page_number,
    )
    return svg_text(picture, revision)


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() else 1


@router.get("/ui/topology")
@guarded
async def topology(request: Request) -> Response:
    me = current(request)
    svc = services(request)
    networks = svc.networks.search(me.ctx, ListQuery())
    svg = render_svg(svc, me.ctx, _page_number(request), networks)
    _, number, pages = page_networks(networks, _page_number(request))
    pic = {"page": number, "pages": pages, "total_networks": len(networks)}
    return page(request, me, "topology.html", svg=Markup(svg), pic=pic)


@router.get("/ui/topology/svg")
@guarded
async def topology_svg(request: Request) -> Response:
    me = current(request)
    svg = render_svg(services(request), me.ctx, _page_number(request))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _waiters(request: Request) -> anyio.CapacityLimiter:
    limiter = getattr(request.app.state, "ui_waiters", None)
    if limiter is None:
        limiter = request.app.state.ui_waiters = anyio.CapacityLimiter(MAX_WAITERS)
    return limiter


@router.get("/ui/topology/changes")
@guarded
async def changes(request: Request) -> Response:
    current(request)
    try:
        since = int(request.query_params.get("since", ""))
        timeout = min(max(float(request.query_params.get("timeout", MAX_WAIT)), 0.0), MAX_WAIT)
    except ValueError:
        raise BadRequest("'since' must be an integer and 'timeout' a number") from None
    store = services(request).store
    deadline = time.monotonic() + timeout
    while True:  # in slices, so a browser that left frees its thread within one slice
        remaining = deadline - time.monotonic()
        wait = functools.partial(store.wait_for_change, since, max(min(remaining, SLICE), 0))
        revision = await anyio.to_thread.run_sync(wait, limiter=_waiters(request))
        if (
            revision > since
            or remaining <= SLICE
            or store.closing  # the server is stopping: answer now
            or await request.is_disconnected()
        ):
            return JSONResponse({"revision": revision}, headers={"Cache-Control": "no-store"})
