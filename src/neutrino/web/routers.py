"""Routers: list, create (admins may make it HA), delete, and on the detail page the interfaces
(add one on a subnet, remove one), the external gateway (set, clear), extra routes (add,
remove: Neutron's ``extraroute-atomic`` calls) and, for admins, the L3 agents hosting it with
their active/standby state. Each form is one Neutron call
(``POST /routers``, ``PUT .../add_router_interface``, ``PUT /routers/{id}`` with
``external_gateway_info``), so what Neutron refuses comes back with Neutron's message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import NeutrinoError
from neutrino.domain.listing import ListQuery
from neutrino.web.forms import submit
from neutrino.web.jobs import Step, delete_selected, launch
from neutrino.web.networks import by_name
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form, services

router = APIRouter()


@router.get("/ui/routers")
@guarded
async def list_routers(request: Request) -> Response:
    me = current(request)
    svc = services(request)
    names = {n["id"]: n["name"] for n in svc.networks.search(me.ctx, ListQuery())}
    return page(
        request,
        me,
        "routers.html",
        routers=svc.routers.search(me.ctx, by_name()),
        names=names,
        form={"admin_state_up": "on"},
        errors={},
    )


@router.post("/ui/routers")
@guarded
async def create_router(request: Request) -> Response:
    me = current(request)
    routers = services(request).routers

    def create(fields: dict[str, str]) -> dict[str, Any]:
        body = {
            "name": fields.get("name", ""),
            "admin_state_up": fields.get("admin_state_up") == "on",
        }
        if me.ctx.is_admin:  # ``ha`` is admin-only: a member's form has no such box
            body["ha"] = fields.get("ha") == "on"
        return routers.create_bulk(me.ctx, [body])[0]

    return await submit(
        request,
        create,
        lambda created: f"/ui/routers/{created['id']}",
        lambda f, errors, status: page(
            request,
            me,
            "routers.html",
            status=status,
            routers=routers.search(me.ctx, by_name()),
            names={},
            form=f,
            errors=errors,
        ),
    )


@router.post("/ui/routers/delete")
@guarded
async def delete_routers(request: Request) -> Response:
    routers = services(request).routers
    return await delete_selected(
        request,
        "router",
        "/ui/routers",
        lambda me: {r["id"]: r["name"] for r in routers.search(me.ctx, ListQuery())},
        lambda me, rid: routers.delete(me.ctx, rid),
    )


@router.get("/ui/routers/{router_id}")
@guarded
async def show_router(request: Request, router_id: str) -> Response:
    return _detail(request, current(request), router_id, {}, {})


def _detail(
    request: Request,
    me: Session,
    router_id: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    svc = services(request)
    found = svc.routers.get(me.ctx, router_id)
    networks = {n["id"]: n for n in svc.networks.search(me.ctx, by_name())}
    subnets = {s["id"]: s for s in svc.subnets.search(me.ctx, by_name())}
    interfaces = [
        p
        for p in svc.ports.search(
            me.ctx,
            ListQuery(
                filters={"device_id": [router_id], "device_owner": ["network:router_interface"]}
            ),
        )
    ]
    attached = {ip["subnet_id"] for p in interfaces for ip in p["fixed_ips"]}
    choices = [
        (
            s["id"],
            f"{networks.get(s['network_id'], {}).get('name', '')} {s['name']} {s['cidr']}".strip(),
        )
        for s in subnets.values()
        if s["id"] not in attached and not networks.get(s["network_id"], {}).get("router:external")
    ]
    externals = [
        (n["id"], n["name"] or n["id"]) for n in networks.values() if n.get("router:external")
    ]
    # which L3 agents host it, with each one's VRRP state for an HA router (admin-only data)
    hosting = svc.l3_agents.hosting(me.ctx, router_id) if me.ctx.is_admin else []
    return page(
        request,
        me,
        "router.html",
        status=status,
        router=found,
        interfaces=interfaces,
        networks=networks,
        subnets=subnets,
        subnet_choices=choices,
        externals=externals,
        hosting=hosting,
        form=fields,
        errors=errors,
    )


async def _action(request: Request, router_id: str, call: str) -> Response:
    me = current(request)
    fields = await form(request)
    routers = services(request).routers
    try:
        if call == "add_interface":
            routers.add_interface(me.ctx, router_id, {"subnet_id": fields.get("subnet_id", "")})
        elif call == "remove_interface":
            routers.remove_interface(me.ctx, router_id, {"port_id": fields.get("port_id", "")})
        elif call in ("add_route", "remove_route"):
            route = {
                "destination": fields.get("destination", ""),
                "nexthop": fields.get("nexthop", ""),
            }
            change = routers.add_extraroutes if call == "add_route" else routers.remove_extraroutes
            change(me.ctx, router_id, {"routes": [route]})
    except NeutrinoError as exc:  # several small forms on one page: one message on top
        return _detail(request, me, router_id, fields, {"": exc.message}, exc.status)
    return RedirectResponse(f"/ui/routers/{router_id}", status_code=303)


@router.post("/ui/routers/{router_id}/interfaces")
@guarded
async def add_interface(request: Request, router_id: str) -> Response:
    return await _action(request, router_id, "add_interface")


@router.post("/ui/routers/{router_id}/interfaces/remove")
@guarded
async def remove_interface(request: Request, router_id: str) -> Response:
    return await _action(request, router_id, "remove_interface")


@router.post("/ui/routers/{router_id}/gateway")
@guarded
async def set_gateway(request: Request, router_id: str) -> Response:
    return await _gateway(request, router_id, clear=False)


@router.post("/ui/routers/{router_id}/gateway/clear")
@guarded
async def clear_gateway(request: Request, router_id: str) -> Response:
    return await _gateway(request, router_id, clear=True)


async def _gateway(request: Request, router_id: str, clear: bool) -> Response:
    """Setting or clearing a gateway allocates or frees an address on the external network
    and (re)plans SNAT and floating IPs: a job, followed on its progress page."""
    me = current(request)
    fields = await form(request)
    svc = services(request)
    found = svc.routers.get(me.ctx, router_id)
    name = found["name"] or router_id
    if clear:
        label, info = f"Clear the external gateway of router {name}", {}
    else:
        network_id = fields.get("network_id", "")
        try:
            network = svc.networks.get(me.ctx, network_id)["name"] or network_id
        except NeutrinoError:  # the update below says what is wrong with it
            network = network_id
        label, info = (
            f"Set router {name}'s gateway on network {network}",
            {"network_id": network_id},
        )
    step = Step(
        label,
        lambda: svc.routers.update(me.ctx, router_id, {"external_gateway_info": info}),
    )
    return launch(request, me, label, f"/ui/routers/{router_id}", [step])


@router.post("/ui/routers/{router_id}/routes")
@guarded
async def add_route(request: Request, router_id: str) -> Response:
    return await _action(request, router_id, "add_route")


@router.post("/ui/routers/{router_id}/routes/remove")
@guarded
async def remove_route(request: Request, router_id: str) -> Response:
    return await _action(request, router_id, "remove_route")


@router.post("/ui/routers/{router_id}/delete")
@guarded
async def delete_router(request: Request, router_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).routers.delete(me.ctx, router_id)
    return RedirectResponse("/ui/routers", status_code=303)
