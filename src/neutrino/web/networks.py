"""Networks and their subnets: list, detail (subnets and ports), create, edit, delete.

Forms map one-to-one onto the bodies ``POST/PUT /v2.0/networks`` and ``/v2.0/subnets`` take,
and go to the same service calls, so Neutron's validation is the only validation: a refused
form comes back filled in, with Neutron's message next to the field it names.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.domain.listing import ListQuery
from neutrino.web.forms import submit
from neutrino.web.jobs import delete_selected
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form, services

router = APIRouter()


def by_name() -> ListQuery:
    return ListQuery(sorts=[("name", True), ("id", True)])


def on_network(network_id: str) -> ListQuery:
    return ListQuery(filters={"network_id": [network_id]}, sorts=[("name", True), ("id", True)])


def network_body(fields: dict[str, str], me: Session, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": fields.get("name", ""),
        "admin_state_up": fields.get("admin_state_up") == "on",
    }
    if me.ctx.is_admin:  # only admins may set these: a member's form has no such fields
        body["shared"] = fields.get("shared") == "on"
        body["router:external"] = fields.get("external") == "on"
    elif creating:
        body.pop("shared", None)
    return body


@router.get("/ui/networks")
@guarded
async def list_networks(request: Request) -> Response:
    me = current(request)
    svc = services(request)
    networks = svc.networks.search(me.ctx, by_name())
    cidrs: dict[str, list[str]] = {}
    for subnet in svc.subnets.search(me.ctx, ListQuery()):
        cidrs.setdefault(subnet["network_id"], []).append(subnet["cidr"])
    return page(request, me, "networks.html", networks=networks, cidrs=cidrs)


@router.post("/ui/networks/delete")
@guarded
async def delete_networks(request: Request) -> Response:
    svc = services(request)
    return await delete_selected(
        request,
        "network",
        "/ui/networks",
        lambda me: {n["id"]: n["name"] for n in svc.networks.search(me.ctx, ListQuery())},
        lambda me, rid: svc.networks.delete(me.ctx, rid),
    )


@router.get("/ui/networks/new")
@guarded
async def new_network(request: Request) -> Response:
    me = current(request)
    return page(
        request, me, "network_form.html", network=None, form={"admin_state_up": "on"}, errors={}
    )


@router.post("/ui/networks/new")
@guarded
async def create_network(request: Request) -> Response:
    me = current(request)
    return await submit(
        request,
        lambda f: services(request).networks.create_bulk(
            me.ctx, [network_body(f, me, creating=True)]
        )[0],
        lambda created: f"/ui/networks/{created['id']}",
        lambda f, errors, status: page(
            request, me, "network_form.html", status=status, network=None, form=f, errors=errors
        ),
    )


@router.get("/ui/networks/{network_id}")
@guarded
async def show_network(request: Request, network_id: str) -> Response:
    me = current(request)
    return _detail(request, me, network_id, {"ip_version": "4", "enable_dhcp": "on"}, {})


def _detail(
    request: Request,
    me: Session,
    network_id: str,
    subnet_form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    svc = services(request)
    network = svc.networks.get(me.ctx, network_id)
    return page(
        request,
        me,
        "network.html",
        status=status,
        network=network,
        subnets=svc.subnets.search(me.ctx, on_network(network_id)),
        ports=svc.ports.search(me.ctx, on_network(network_id)),
        form=subnet_form,
        errors=errors,
    )


@router.get("/ui/networks/{network_id}/edit")
@guarded
async def edit_network(request: Request, network_id: str) -> Response:
    me = current(request)
    network = services(request).networks.get(me.ctx, network_id)
    fields = {
        "name": network["name"],
        "admin_state_up": "on" if network["admin_state_up"] else "",
        "shared": "on" if network["shared"] else "",
        "external": "on" if network.get("router:external") else "",
    }
    return page(request, me, "network_form.html", network=network, form=fields, errors={})


@router.post("/ui/networks/{network_id}/edit")
@guarded
async def update_network(request: Request, network_id: str) -> Response:
    me = current(request)
    svc = services(request)
    return await submit(
        request,
        lambda f: svc.networks.update(me.ctx, network_id, network_body(f, me, creating=False)),
        lambda _: f"/ui/networks/{network_id}",
        lambda f, errors, status: page(
            request,
            me,
            "network_form.html",
            status=status,
            network=svc.networks.get(me.ctx, network_id),
            form=f,
            errors=errors,
        ),
    )


@router.post("/ui/networks/{network_id}/delete")
@guarded
async def delete_network(request: Request, network_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).networks.delete(me.ctx, network_id)
    return RedirectResponse("/ui/networks", status_code=303)


def subnet_body(network_id: str, fields: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "network_id": network_id,
        "name": fields.get("name", ""),
        "cidr": fields.get("cidr", ""),
        "ip_version": int(fields["ip_version"])
        if fields.get("ip_version", "").isdigit()
        else fields.get("ip_version"),
        "enable_dhcp": fields.get("enable_dhcp") == "on",
    }
    if fields.get("gateway_ip"):
        body["gateway_ip"] = fields["gateway_ip"]
    dns = [s.strip() for s in fields.get("dns_nameservers", "").split(",") if s.strip()]
    if dns:
        body["dns_nameservers"] = dns
    return body


@router.post("/ui/networks/{network_id}/subnets")
@guarded
async def create_subnet(request: Request, network_id: str) -> Response:
    me = current(request)
    return await submit(
        request,
        lambda f: services(request).subnets.create_bulk(me.ctx, [subnet_body(network_id, f)]),
        lambda _: f"/ui/networks/{network_id}",
        lambda f, errors, status: _detail(request, me, network_id, f, errors, status),
    )


@router.post("/ui/subnets/{subnet_id}/delete")
@guarded
async def delete_subnet(request: Request, subnet_id: str) -> Response:
    me = current(request)
    await form(request)
    svc = services(request)
    network_id = svc.subnets.get(me.ctx, subnet_id)["network_id"]
    svc.subnets.delete(me.ctx, subnet_id)
    return RedirectResponse(f"/ui/networks/{network_id}", status_code=303)


@router.get("/ui/ports/{port_id}")
@guarded
async def show_port(request: Request, port_id: str) -> Response:
    me = current(request)
    svc = services(request)
    port = svc.ports.get(me.ctx, port_id)
    policies = [(p["id"], p["name"] or p["id"]) for p in svc.qos_policies.search(me.ctx, by_name())]
    return page(request, me, "port.html", port=port, qos_choices=policies, qos_names=dict(policies))
