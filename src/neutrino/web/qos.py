"""QoS policies: list and create them (admins), show one with its rules (bandwidth limits in
a table of their own, the other types' rules by type with their values), add a bandwidth limit,
remove any rule, and choose a port's policy on the port page.

Creating policies and rules is admin-only in Neutron, so members see the policies shared with
them and the forms only where the call could succeed; a refused call still comes back with
Neutron's message. Each form is one service call, as everywhere in the UI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.domain.listing import ListQuery
from neutrino.web.forms import submit
from neutrino.web.jobs import delete_selected
from neutrino.web.networks import by_name
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form, services

router = APIRouter()
BANDWIDTH_LIMIT = "bandwidth_limit"
RULE_FIELDS = ("max_kbps", "max_burst_kbps", "direction")


@router.get("/ui/qos")
@guarded
async def list_policies(request: Request) -> Response:
    return _list(request, current(request), {}, {})


def _list(
    request: Request, me: Session, fields: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    policies = services(request).qos_policies.search(me.ctx, by_name())
    return page(
        request,
        me,
        "qos_policies.html",
        status=status,
        policies=policies,
        form=fields,
        errors=errors,
    )


@router.post("/ui/qos")
@guarded
async def create_policy(request: Request) -> Response:
    me = current(request)
    policies = services(request).qos_policies

    def create(fields: dict[str, str]) -> dict[str, Any]:
        body = {
            "name": fields.get("name", ""),
            "description": fields.get("description", ""),
            "shared": fields.get("shared") == "on",
        }
        return policies.create_bulk(me.ctx, [body])[0]

    return await submit(
        request,
        create,
        lambda created: f"/ui/qos/{created['id']}",
        lambda f, errors, status: _list(request, me, f, errors, status),
    )


@router.post("/ui/qos/delete")
@guarded
async def delete_policies(request: Request) -> Response:
    policies = services(request).qos_policies
    return await delete_selected(
        request,
        "QoS policy",
        "/ui/qos",
        lambda me: {p["id"]: p["name"] for p in policies.search(me.ctx, ListQuery())},
        lambda me, rid: policies.delete(me.ctx, rid),
    )


@router.get("/ui/qos/{policy_id}")
@guarded
async def show_policy(request: Request, policy_id: str) -> Response:
    return _detail(request, current(request), policy_id, {"direction": "egress"}, {})


def _detail(
    request: Request,
    me: Session,
    policy_id: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    policy = services(request).qos_policies.get(me.ctx, policy_id)
    limits = [r for r in policy["rules"] if r["type"] == BANDWIDTH_LIMIT]
    rules = sorted(limits, key=lambda r: (r["direction"], r["id"]))
    others = [
        {
            "id": r["id"],
            "type": r["type"],
            "settings": ", ".join(
                f"{k} {v}" for k, v in r.items() if k not in ("id", "type", "qos_policy_id")
            ),
        }
        for r in sorted(policy["rules"], key=lambda r: (r["type"], r["id"]))
        if r["type"] != BANDWIDTH_LIMIT
    ]
    return page(
        request,
        me,
        "qos_policy.html",
        status=status,
        policy=policy,
        rules=rules,
        others=others,
        form=fields,
        errors=errors,
    )


def rule_body(fields: dict[str, str]) -> dict[str, Any]:
    """The rule as typed: empty fields are left out, so Neutron's defaults apply; numbers stay
    strings when they are not numbers, so Neutron's own message says what is wrong."""
    body: dict[str, Any] = {}
    for name in RULE_FIELDS:
        value = fields.get(name, "").strip()
        if value:
            body[name] = int(value) if value.isdigit() else value
    return body


@router.post("/ui/qos/{policy_id}/rules")
@guarded
async def add_rule(request: Request, policy_id: str) -> Response:
    me = current(request)
    rules = services(request).qos_rules
    return await submit(
        request,
        lambda f: rules.create(me.ctx, BANDWIDTH_LIMIT, policy_id, rule_body(f)),
        lambda _: f"/ui/qos/{policy_id}",
        lambda f, errors, status: _detail(request, me, policy_id, f, errors, status),
    )


@router.post("/ui/qos/{policy_id}/rules/{rule_id}/delete")
@guarded
async def delete_rule(request: Request, policy_id: str, rule_id: str) -> Response:
    me = current(request)
    fields = await form(request)
    kind = fields.get("type") or BANDWIDTH_LIMIT
    services(request).qos_rules.delete(me.ctx, kind, policy_id, rule_id)
    return RedirectResponse(f"/ui/qos/{policy_id}", status_code=303)


@router.post("/ui/qos/{policy_id}/delete")
@guarded
async def delete_policy(request: Request, policy_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).qos_policies.delete(me.ctx, policy_id)
    return RedirectResponse("/ui/qos", status_code=303)


@router.post("/ui/ports/{port_id}/qos")
@guarded
async def set_port_policy(request: Request, port_id: str) -> Response:
    """The port's own policy, or none (then the network's applies, as in Neutron)."""
    me = current(request)
    fields = await form(request)
    services(request).ports.update(
        me.ctx, port_id, {"qos_policy_id": fields.get("qos_policy_id") or None}
    )
    return RedirectResponse(f"/ui/ports/{port_id}", status_code=303)
