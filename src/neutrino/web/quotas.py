"""Quotas (admin): every project's limits and use, and a form to change one project's limits
(``PUT /v2.0/quotas/{project}``: Neutron's checks, such as a limit below what is already used,
come back next to the field). A member neither sees the link nor gets the pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.service.quotas import RESOURCES
from neutrino.web.forms import submit
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, services

router = APIRouter()


@router.get("/ui/quotas")
@guarded
async def list_quotas(request: Request) -> Response:
    me = current(request)
    me.ctx.require_admin("get_quota")
    svc = services(request)
    projects = sorted(svc.identity.list_projects(me.ctx, {}), key=lambda p: p["name"])
    rows = [(p, svc.quotas.details(me.ctx, p["id"])) for p in projects]
    return page(request, me, "quotas.html", rows=rows, resources=RESOURCES)


@router.get("/ui/quotas/{project_id}")
@guarded
async def edit_quota(request: Request, project_id: str) -> Response:
    me = current(request)
    me.ctx.require_admin("update_quota")
    limits = services(request).quotas.show(me.ctx, project_id)
    return _form(request, me, project_id, {r: str(limits[r]) for r in RESOURCES}, {})


def _form(
    request: Request,
    me: Session,
    project_id: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    project = services(request).identity.get_project(me.ctx, project_id)
    return page(
        request,
        me,
        "quota_form.html",
        status=status,
        project=project,
        resources=RESOURCES,
        form=fields,
        errors=errors,
    )


@router.post("/ui/quotas/{project_id}")
@guarded
async def update_quota(request: Request, project_id: str) -> Response:
    me = current(request)

    def limits(fields: dict[str, str]) -> dict[str, Any]:
        return {r: fields[r] for r in RESOURCES if fields.get(r, "") != ""}

    return await submit(
        request,
        lambda f: services(request).quotas.update(me.ctx, project_id, limits(f)),
        lambda _: "/ui/quotas",
        lambda f, errors, status: _form(request, me, project_id, f, errors, status),
    )
