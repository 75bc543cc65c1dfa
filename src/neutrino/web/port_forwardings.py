"""A floating IP's own page: what it is associated with, and its port forwardings (many ports
of one public address to several VMs: list, add, remove).

A forwarding form takes the external and internal port as one number or a ``from:to`` range
and sends whichever of Neutron's two attributes (``external_port`` or
``external_port_range``) that is; an empty internal address means the chosen port's first
IPv4 address, which is what a user picking a VM means. Everything else is Neutron's to check.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.domain.listing import ListQuery
from neutrino.web.forms import submit
from neutrino.web.networks import by_name
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form, services

router = APIRouter()


@router.get("/ui/floatingips/{fip_id}")
@guarded
async def show_floating_ip(request: Request, fip_id: str) -> Response:
    return _detail(request, current(request), fip_id, {"protocol": "tcp"}, {})


def _detail(
    request: Request,
    me: Session,
    fip_id: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    svc = services(request)
    fip = svc.floatingips.get(me.ctx, fip_id)
    forwardings = svc.port_forwardings.search(me.ctx, fip_id, ListQuery())
    forwardings.sort(key=lambda f: (f["protocol"], f["external_port_range"] or "", f["id"]))
    ports = [
        p
        for p in svc.ports.search(me.ctx, by_name())
        if not p["device_owner"].startswith("network:")
    ]
    return page(
        request,
        me,
        "floatingip.html",
        status=status,
        fip=fip,
        forwardings=forwardings,
        port_choices=[(p["id"], _port_label(p)) for p in ports],
        port_names={p["id"]: _port_label(p) for p in ports},
        form=fields,
        errors=errors,
    )


def _port_label(port: dict[str, Any]) -> str:
    addresses = ", ".join(ip["ip_address"] for ip in port["fixed_ips"])
    return f"{port['name'] or port['id'][:8]} {addresses}".strip()


def forwarding_body(fields: dict[str, str], port: dict[str, Any] | None) -> dict[str, Any]:
    """Neutron's body for the form (see the module docstring)."""
    body: dict[str, Any] = {"protocol": fields.get("protocol", "tcp")}
    if fields.get("internal_port_id"):
        body["internal_port_id"] = fields["internal_port_id"]
    address = fields.get("internal_ip_address", "").strip()
    if not address and port is not None:
        v4 = [
            ip["ip_address"]
            for ip in port["fixed_ips"]
            if ip_address(ip["ip_address"]).version == 4
        ]
        address = v4[0] if v4 else ""
    if address:
        body["internal_ip_address"] = address
    for side in ("external", "internal"):
        value = fields.get(f"{side}_port", "").strip()
        if ":" in value:
            body[f"{side}_port_range"] = value
        elif value:
            body[f"{side}_port"] = int(value) if value.isdigit() else value
    if fields.get("description"):
        body["description"] = fields["description"]
    return body


@router.post("/ui/floatingips/{fip_id}/port-forwardings")
@guarded
async def add_forwarding(request: Request, fip_id: str) -> Response:
    me = current(request)
    svc = services(request)

    def create(fields: dict[str, str]) -> dict[str, Any]:
        port_id = fields.get("internal_port_id", "")
        port = svc.ports.get(me.ctx, port_id) if port_id else None
        return svc.port_forwardings.create(me.ctx, fip_id, forwarding_body(fields, port))

    return await submit(
        request,
        create,
        lambda _: f"/ui/floatingips/{fip_id}",
        lambda f, errors, status: _detail(request, me, fip_id, f, errors, status),
    )


@router.post("/ui/floatingips/{fip_id}/port-forwardings/{pf_id}/delete")
@guarded
async def delete_forwarding(request: Request, fip_id: str, pf_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).port_forwardings.delete(me.ctx, fip_id, pf_id)
    return RedirectResponse(f"/ui/floatingips/{fip_id}", status_code=303)
