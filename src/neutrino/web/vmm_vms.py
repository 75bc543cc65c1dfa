"""VMs and their vNICs: a member's VMs of its project (an admin's: all). List and define a VM
(a cluster, a first vNIC on a vNIC profile), see its vNICs with their ports' live status,
addresses and binding, add or remove vNICs, and start, stop or migrate it.

Start and migrate bind every vNIC's port to the chosen host on the provider and wait for the
ports to go ACTIVE (up to the vmm's ``wait_timeout``), stop unbinds them: jobs, followed on
their progress page, whose failure is the provider's message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.web.forms import INVALID_INPUT, Fields, named_first, submit
from neutrino.web.jobs import Step, delete_selected, launch
from neutrino.web.manager import Manager, manager, run, signed_in
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, form

router = APIRouter()


async def _choices(mgr: Manager, caller: object) -> dict[str, list[tuple[str, str]]]:
    inv = mgr.vmm.inventory
    clusters = await run(inv.list_clusters, caller)
    profiles = await run(inv.list_profiles, caller)
    hosts = await run(inv.list_hosts, caller)
    return {
        "clusters": sorted((c["id"], c["name"]) for c in clusters),
        "profiles": sorted(((p["id"], p["name"]) for p in profiles), key=lambda c: c[1]),
        "hosts": sorted(((h["id"], h["name"]) for h in hosts), key=lambda c: c[1]),
    }


@router.get("/ui/vms")
@guarded
async def list_vms(request: Request) -> Response:
    me, mgr = signed_in(request)
    return await _list(request, me, mgr, {"nic_name": "nic1"}, {})


async def _list(
    request: Request, me: Session, mgr: Manager, fields: Fields, errors: Fields, status: int = 200
) -> Response:
    caller = mgr.caller(me.ctx)
    vms = sorted(await run(mgr.vmm.vms.list_vms, caller), key=lambda v: (v["name"], v["id"]))
    choices = await _choices(mgr, caller)
    return page(
        request,
        me,
        "vms.html",
        status=status,
        vms=vms,
        host_names=dict(choices["hosts"]),
        cluster_names=dict(choices["clusters"]),
        choices=choices,
        form=fields,
        errors=errors,
    )


def vm_body(fields: Fields) -> dict[str, Any]:
    body: dict[str, Any] = {"name": fields.get("name", ""), "cluster_id": fields.get("cluster_id")}
    if fields.get("profile_id"):
        body["nics"] = [
            {"name": fields.get("nic_name") or "nic1", "profile_id": fields["profile_id"]}
        ]
    return body


@router.post("/ui/vms")
@guarded
async def create_vm(request: Request) -> Response:
    me, mgr = signed_in(request)
    return await submit(
        request,
        lambda f: run(mgr.vmm.vms.create, mgr.caller(me.ctx), vm_body(f)),
        lambda made: f"/ui/vms/{made['id']}",
        lambda f, errors, status: _list(request, me, mgr, f, errors, status),
        errors=named_first,
    )


@router.post("/ui/vms/delete")
@guarded
async def delete_vms(request: Request) -> Response:
    """Bulk delete: each VM's ports go on its provider, one step per VM."""
    mgr = manager(request)
    vms = mgr.vmm.vms
    return await delete_selected(
        request,
        "VM",
        "/ui/vms",
        lambda me: {v["id"]: v["name"] for v in vms.list_vms(mgr.caller(me.ctx))},
        lambda me, vm_id: vms.delete(mgr.caller(me.ctx), vm_id),
    )


@router.get("/ui/vms/{vm_id}")
@guarded
async def show_vm(request: Request, vm_id: str) -> Response:
    me, mgr = signed_in(request)
    return await _detail(request, me, mgr, vm_id, {"nic_name": ""}, {})


async def _detail(
    request: Request,
    me: Session,
    mgr: Manager,
    vm_id: str,
    fields: Fields,
    errors: Fields,
    status: int = 200,
) -> Response:
    caller = mgr.caller(me.ctx)
    vm = await run(mgr.vmm.vms.show, caller, vm_id)
    choices = await _choices(mgr, caller)
    return page(
        request,
        me,
        "vm.html",
        status=status,
        vm=vm,
        host_names=dict(choices["hosts"]),
        profile_names=dict(choices["profiles"]),
        choices=choices,
        form=fields,
        errors=errors,
    )


@router.post("/ui/vms/{vm_id}/nics")
@guarded
async def add_nic(request: Request, vm_id: str) -> Response:
    me, mgr = signed_in(request)
    return await submit(
        request,
        lambda f: run(
            mgr.vmm.vms.add_nic,
            mgr.caller(me.ctx),
            vm_id,
            {"name": f.get("nic_name", ""), "profile_id": f.get("profile_id", "")},
        ),
        lambda _: f"/ui/vms/{vm_id}",
        lambda f, errors, status: _detail(request, me, mgr, vm_id, f, errors, status),
        errors=lambda exc, f: {
            "nic_name"
            if exc.message.removeprefix(INVALID_INPUT).startswith("name")
            else "": exc.message
        },
    )


@router.post("/ui/vms/{vm_id}/nics/{nic_id}/delete")
@guarded
async def remove_nic(request: Request, vm_id: str, nic_id: str) -> Response:
    me, mgr = signed_in(request)
    await form(request)
    await run(mgr.vmm.vms.remove_nic, mgr.caller(me.ctx), vm_id, nic_id)
    return RedirectResponse(f"/ui/vms/{vm_id}", status_code=303)


@router.post("/ui/vms/{vm_id}/delete")
@guarded
async def delete_vm(request: Request, vm_id: str) -> Response:
    me, mgr = signed_in(request)
    await form(request)
    await run(mgr.vmm.vms.delete, mgr.caller(me.ctx), vm_id)
    return RedirectResponse("/ui/vms", status_code=303)


@router.post("/ui/vms/{vm_id}/{action}")
@guarded
async def act(request: Request, vm_id: str, action: str) -> Response:
    """start, stop, migrate: a job each (the ports are bound and waited for)."""
    me, mgr = signed_in(request)
    fields = await form(request)
    caller = mgr.caller(me.ctx)
    vms = mgr.vmm.vms
    name = (await run(vms.show, caller, vm_id, False))["name"]
    host = fields.get("host_id") or None
    if action == "start":
        label = f"Start VM {name}"
        step = Step(label, lambda: _placed(vms.start(caller, vm_id, host)))
    elif action == "migrate":
        label = f"Migrate VM {name}"
        step = Step(label, lambda: _placed(vms.migrate(caller, vm_id, host)))
    elif action == "stop":
        label = f"Stop VM {name}"
        step = Step(label, lambda: _stopped(vms.stop(caller, vm_id)))
    else:
        return RedirectResponse(f"/ui/vms/{vm_id}", status_code=303)
    return launch(request, me, label, f"/ui/vms/{vm_id}", [step])


def _stopped(vm: dict[str, Any]) -> str:
    return f"VM {vm['name']} is {vm['status']}; its ports are unbound"


def _placed(vm: dict[str, Any]) -> str:
    ports = vm.get("ports") or {}
    states = ", ".join(sorted(f"{p.get('status', '?')}" for p in ports.values()))
    return f"Running on host {vm.get('host')}" + (f"; ports: {states}" if states else "")
