"""The overview and floating IPs pages.

The overview counts what the caller's project sees and, for an admin, lists the agents with
their liveness (an agent silent past Neutron's ``agent_down_time`` is dead). Floating IPs are
allocated from an external network and associated with a port (or released) by the forms of
their page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import NeutrinoError
from neutrino.domain.listing import ListQuery
from neutrino.web.forms import submit
from neutrino.web.jobs import delete_selected
from neutrino.web.networks import by_name
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form, services

router = APIRouter()


@router.get("/ui")
@router.get("/ui/")
@guarded
async def overview(request: Request) -> Response:
    me = current(request)
    svc = services(request)
    everything = ListQuery()
    counts = {
        "Networks": len(svc.networks.search(me.ctx, everything)),
        "Subnets": len(svc.subnets.search(me.ctx, everything)),
        "Ports": len(svc.ports.search_json(me.ctx, everything)),
        "Routers": len(svc.routers.search(me.ctx, everything)),
        "Floating IPs": len(svc.floatingips.search(me.ctx, everything)),
        "Security groups": len(svc.security_groups.search(me.ctx, everything)),
    }
    agents = svc.agents.search(me.ctx, ListQuery(sorts=[("host", True), ("id", True)]))
    return page(
        request,
        me,
        "overview.html",
        counts=counts,
        agents=agents,
        changes=svc.changes.recent(me.ctx),
    )


@router.get("/ui/floatingips")
@guarded
async def floatingips(request: Request) -> Response:
    return _floatingips(request, current(request), {}, {})


def _floatingips(
    request: Request, me: Session, fields: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    svc = services(request)
    networks = svc.networks.search(me.ctx, by_name())
    externals = [(n["id"], n["name"] or n["id"]) for n in networks if n.get("router:external")]
    ports = [
        p
        for p in svc.ports.search(me.ctx, by_name())
        if not p["device_owner"].startswith("network:")
    ]
    port_choices = [
        (
            p["id"],
            f"{p['name'] or p['id'][:8]} {', '.join(ip['ip_address'] for ip in p['fixed_ips'])}",
        )
        for p in ports
    ]
    return page(
        request,
        me,
        "floatingips.html",
        status=status,
        fips=svc.floatingips.search(me.ctx, ListQuery()),
        externals=externals,
        port_choices=port_choices,
        names={n["id"]: n["name"] for n in networks},
        form=fields,
        errors=errors,
    )


@router.post("/ui/floatingips")
@guarded
async def allocate(request: Request) -> Response:
    me = current(request)

    def body(fields: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = {"floating_network_id": fields.get("floating_network_id", "")}
        if fields.get("port_id"):
            found["port_id"] = fields["port_id"]
        return found

    return await submit(
        request,
        lambda f: services(request).floatingips.create_bulk(me.ctx, [body(f)]),
        lambda _: "/ui/floatingips",
        lambda f, errors, status: _floatingips(request, me, f, errors, status),
    )


@router.post("/ui/floatingips/delete")
@guarded
async def release_selected(request: Request) -> Response:
    fips = services(request).floatingips
    return await delete_selected(
        request,
        "floating IP",
        "/ui/floatingips",
        lambda me: {f["id"]: f["floating_ip_address"] for f in fips.search(me.ctx, ListQuery())},
        lambda me, rid: fips.delete(me.ctx, rid),
    )


@router.post("/ui/floatingips/{fip_id}/associate")
@guarded
async def associate(request: Request, fip_id: str) -> Response:
    me = current(request)
    fields = await form(request)
    try:
        services(request).floatingips.update(
            me.ctx, fip_id, {"port_id": fields.get("port_id") or None}
        )
    except NeutrinoError as exc:  # the row's form has no room: the message goes on top
        return _floatingips(request, me, {}, {"": exc.message}, exc.status)
    return RedirectResponse("/ui/floatingips", status_code=303)


@router.post("/ui/floatingips/{fip_id}/delete")
@guarded
async def release(request: Request, fip_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).floatingips.delete(me.ctx, fip_id)
    return RedirectResponse("/ui/floatingips", status_code=303)
