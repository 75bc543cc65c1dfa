"""Security groups and their rules: list and create groups, show one with its rules, add a rule
(direction, ethertype, protocol, port range, remote prefix or group), delete rules and groups.
Empty fields are left out of the body, so Neutron's defaults and checks apply unchanged.
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
RULE_FIELDS = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
)


@router.get("/ui/security-groups")
@guarded
async def list_groups(request: Request) -> Response:
    me = current(request)
    return page(
        request,
        me,
        "security_groups.html",
        groups=services(request).security_groups.search(me.ctx, by_name()),
        form={},
        errors={},
    )


@router.post("/ui/security-groups")
@guarded
async def create_group(request: Request) -> Response:
    me = current(request)
    svc = services(request).security_groups
    return await submit(
        request,
        lambda f: svc.create_bulk(
            me.ctx, [{"name": f.get("name", ""), "description": f.get("description", "")}]
        )[0],
        lambda created: f"/ui/security-groups/{created['id']}",
        lambda f, errors, status: page(
            request,
            me,
            "security_groups.html",
            status=status,
            groups=svc.search(me.ctx, by_name()),
            form=f,
            errors=errors,
        ),
    )


@router.post("/ui/security-groups/delete")
@guarded
async def delete_groups(request: Request) -> Response:
    groups = services(request).security_groups
    return await delete_selected(
        request,
        "security group",
        "/ui/security-groups",
        lambda me: {g["id"]: g["name"] for g in groups.search(me.ctx, ListQuery())},
        lambda me, rid: groups.delete(me.ctx, rid),
    )


@router.get("/ui/security-groups/{group_id}")
@guarded
async def show_group(request: Request, group_id: str) -> Response:
    return _detail(
        request, current(request), group_id, {"direction": "ingress", "ethertype": "IPv4"}, {}
    )


def _detail(
    request: Request,
    me: Session,
    group_id: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    svc = services(request)
    group = svc.security_groups.get(me.ctx, group_id)
    rules = svc.security_group_rules.search(
        me.ctx, ListQuery(filters={"security_group_id": [group_id]})
    )
    rules.sort(
        key=lambda r: (
            r["direction"],
            r["ethertype"],
            r["protocol"] or "",
            r["port_range_min"] or 0,
            r["id"],
        )
    )
    groups = [
        (g["id"], g["name"] or g["id"]) for g in svc.security_groups.search(me.ctx, by_name())
    ]
    return page(
        request,
        me,
        "security_group.html",
        status=status,
        group=group,
        rules=rules,
        group_choices=groups,
        group_names=dict(groups),
        form=fields,
        errors=errors,
    )


def rule_body(group_id: str, fields: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"security_group_id": group_id}
    for name in RULE_FIELDS:
        value = fields.get(name, "").strip()
        if value:
            body[name] = value
    return body


@router.post("/ui/security-groups/{group_id}/rules")
@guarded
async def add_rule(request: Request, group_id: str) -> Response:
    me = current(request)
    return await submit(
        request,
        lambda f: services(request).security_group_rules.create_bulk(
            me.ctx, [rule_body(group_id, f)]
        ),
        lambda _: f"/ui/security-groups/{group_id}",
        lambda f, errors, status: _detail(request, me, group_id, f, errors, status),
    )


@router.post("/ui/security-group-rules/{rule_id}/delete")
@guarded
async def delete_rule(request: Request, rule_id: str) -> Response:
    me = current(request)
    await form(request)
    rules = services(request).security_group_rules
    group_id = rules.get(me.ctx, rule_id)["security_group_id"]
    rules.delete(me.ctx, rule_id)
    return RedirectResponse(f"/ui/security-groups/{group_id}", status_code=303)


@router.post("/ui/security-groups/{group_id}/delete")
@guarded
async def delete_group(request: Request, group_id: str) -> Response:
    me = current(request)
    await form(request)
    services(request).security_groups.delete(me.ctx, group_id)
    return RedirectResponse("/ui/security-groups", status_code=303)
