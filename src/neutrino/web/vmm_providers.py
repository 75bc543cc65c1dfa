"""Providers (admin): the external network providers the manager reaches (any Neutron-compatible
endpoint, neutrino itself included). List, add, edit, delete; "test connection" (a job: the
provider may take its 30 s to answer) whose step says the check's kind and message in plain
words; and the import dialog: for a chosen data center, the provider's networks not yet
imported there, with a checkbox each.

Every call is a vmm use case (``Manager.vmm.providers`` and ``.networks``) in a worker thread.
The password is write-only: the edit form leaves it empty, and an empty field keeps it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import BadRequest, NeutrinoError
from neutrino.web.forms import Fields, named_first, submit
from neutrino.web.jobs import Step, launch
from neutrino.web.manager import Manager, run, signed_in
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, form_lists

router = APIRouter()

TEXT = ("name", "description", "url", "auth_url", "username")
OPTIONAL = ("project", "user_domain", "project_domain")  # empty: the vmm's default


class ConnectionFailed(NeutrinoError):
    """A test connection that did not pass: its kind (``bad_credentials``...) is the type."""

    status = 502

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def type(self) -> str:
        return self.kind


def provider_body(fields: Fields, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {k: fields.get(k, "") for k in TEXT}
    body.update({k: fields[k] for k in OPTIONAL if fields.get(k)})
    if creating or fields.get("password"):
        body["password"] = fields.get("password", "")
    body["read_only"] = fields.get("read_only") == "on"
    interval = fields.get("sync_interval", "").strip()
    if interval:  # a number for the vmm, or the text as typed for it to refuse
        body["sync_interval"] = int(interval) if interval.isdigit() else interval
    return body


@router.get("/ui/providers")
@guarded
async def list_providers(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    return await _list(request, me, mgr, {"sync_interval": "300"}, {})


async def _list(
    request: Request, me: Session, mgr: Manager, fields: Fields, errors: Fields, status: int = 200
) -> Response:
    found = await run(mgr.vmm.providers.list_providers, mgr.caller(me.ctx))
    found.sort(key=lambda p: p["name"])
    return page(
        request, me, "providers.html", status=status, providers=found, form=fields, errors=errors
    )


@router.post("/ui/providers")
@guarded
async def add_provider(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    return await submit(
        request,
        lambda f: run(mgr.vmm.providers.add, mgr.caller(me.ctx), provider_body(f, creating=True)),
        lambda made: f"/ui/providers/{made['id']}",
        lambda f, errors, status: _list(request, me, mgr, f, errors, status),
        errors=named_first,
    )


@router.get("/ui/providers/{provider_id}")
@guarded
async def show_provider(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    return await _detail(request, me, mgr, provider_id, None, {})


async def _detail(
    request: Request,
    me: Session,
    mgr: Manager,
    provider_id: str,
    fields: Fields | None,
    errors: Fields,
    status: int = 200,
) -> Response:
    caller = mgr.caller(me.ctx)
    found = await run(mgr.vmm.providers.show, caller, provider_id)
    if fields is None:
        fields = {k: str(found.get(k) or "") for k in (*TEXT, *OPTIONAL, "sync_interval")}
        fields["read_only"] = "on" if found.get("read_only") else ""
    datacenters = await run(mgr.vmm.inventory.list_datacenters, caller)
    return page(
        request,
        me,
        "provider.html",
        status=status,
        provider=found,
        datacenters=[(d["id"], d["name"]) for d in sorted(datacenters, key=lambda d: d["name"])],
        form=fields,
        errors=errors,
    )


@router.post("/ui/providers/{provider_id}/edit")
@guarded
async def edit_provider(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    return await submit(
        request,
        lambda f: run(
            mgr.vmm.providers.update,
            mgr.caller(me.ctx),
            provider_id,
            provider_body(f, creating=False),
        ),
        lambda _: f"/ui/providers/{provider_id}",
        lambda f, errors, status: _detail(request, me, mgr, provider_id, f, errors, status),
        errors=named_first,
    )


@router.post("/ui/providers/{provider_id}/delete")
@guarded
async def remove_provider(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    await form_lists(request)
    await run(mgr.vmm.providers.remove, mgr.caller(me.ctx), provider_id)
    return RedirectResponse("/ui/providers", status_code=303)


@router.post("/ui/providers/{provider_id}/test")
@guarded
async def test_provider(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    await form_lists(request)
    caller = mgr.caller(me.ctx)
    name = (await run(mgr.vmm.providers.show, caller, provider_id))["name"]

    def check() -> str:
        result = mgr.vmm.providers.test(caller, provider_id)
        if not result.ok:
            raise ConnectionFailed(result.kind, result.message)
        return f"Connection OK: {result.message}"

    label = f"Test the connection to provider {name}"
    return launch(request, me, label, f"/ui/providers/{provider_id}", [Step(label, check)])


@router.get("/ui/providers/{provider_id}/import")
@guarded
async def import_dialog(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    return await _import_page(
        request, me, mgr, provider_id, request.query_params.get("datacenter_id", ""), ""
    )


async def _import_page(
    request: Request,
    me: Session,
    mgr: Manager,
    provider_id: str,
    datacenter_id: str,
    error: str,
    status: int = 200,
) -> Response:
    caller = mgr.caller(me.ctx)
    provider = await run(mgr.vmm.providers.show, caller, provider_id)
    offers = await run(mgr.vmm.networks.discover, caller, provider_id, datacenter_id)
    dcs = {d["id"]: d["name"] for d in await run(mgr.vmm.inventory.list_datacenters, caller)}
    return page(
        request,
        me,
        "provider_import.html",
        status=status,
        provider=provider,
        datacenter_id=datacenter_id,
        datacenter_name=dcs.get(datacenter_id, datacenter_id),
        offers=sorted(offers, key=lambda n: (n["name"] or "", n["id"])),
        errors={"": error} if error else {},
    )


@router.post("/ui/providers/{provider_id}/import")
@guarded
async def import_networks(request: Request, provider_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_providers")
    fields = await form_lists(request)
    datacenter_id = fields.get("datacenter_id", [""])[0]
    ids = fields.get("external_id", [])
    try:
        if not ids:
            raise BadRequest("Select the networks to import first.")
        await run(mgr.vmm.networks.import_, mgr.caller(me.ctx), provider_id, datacenter_id, ids)
    except NeutrinoError as exc:
        return await _import_page(
            request, me, mgr, provider_id, datacenter_id, exc.message, exc.status
        )
    return RedirectResponse(f"/ui/datacenters/{datacenter_id}", status_code=303)
