"""Data centers, clusters and hosts (admin): the manager's own inventory.

A data center's page lists its clusters and the networks imported into it (each with its
provider); data centers and clusters are made on the list page, a data center removed there
(refused, with the vmm's message, while it has VMs, unless forced: then a job deletes their
ports on the providers first). Hosts name the provider host they are (``binding:host_id``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import ResourceNotFound
from neutrino.web.forms import INVALID_INPUT, Fields, named_first, submit
from neutrino.web.jobs import Step, launch
from neutrino.web.manager import Manager, run, signed_in
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, form

router = APIRouter()


@router.get("/ui/datacenters")
@guarded
async def list_datacenters(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    return await _datacenters(request, me, mgr, {}, {})


async def _datacenters(
    request: Request, me: Session, mgr: Manager, fields: Fields, errors: Fields, status: int = 200
) -> Response:
    caller = mgr.caller(me.ctx)
    dcs = sorted(await run(mgr.vmm.inventory.list_datacenters, caller), key=lambda d: d["name"])
    clusters = await run(mgr.vmm.inventory.list_clusters, caller)
    by_dc: dict[str, list[str]] = {}
    for c in sorted(clusters, key=lambda c: c["name"]):
        by_dc.setdefault(c["datacenter_id"], []).append(c["name"])
    return page(
        request,
        me,
        "datacenters.html",
        status=status,
        datacenters=dcs,
        clusters=by_dc,
        dc_choices=[(d["id"], d["name"]) for d in dcs],
        form=fields,
        errors=errors,
    )


@router.post("/ui/datacenters")
@guarded
async def add_datacenter(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    return await submit(
        request,
        lambda f: run(
            mgr.vmm.inventory.add_datacenter,
            mgr.caller(me.ctx),
            {"name": f.get("name", ""), "description": f.get("description", "")},
        ),
        lambda made: f"/ui/datacenters/{made['id']}",
        lambda f, errors, status: _datacenters(request, me, mgr, f, errors, status),
        errors=named_first,
    )


@router.post("/ui/clusters")
@guarded
async def add_cluster(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    return await submit(
        request,
        lambda f: run(
            mgr.vmm.inventory.add_cluster,
            mgr.caller(me.ctx),
            {"name": f.get("cluster_name", ""), "datacenter_id": f.get("datacenter_id", "")},
        ),
        lambda made: f"/ui/datacenters/{made['datacenter_id']}",
        lambda f, errors, status: _datacenters(request, me, mgr, f, errors, status),
        errors=lambda exc, f: {
            "cluster_name"
            if exc.message.removeprefix(INVALID_INPUT).startswith("name")
            else "": exc.message
        },
    )


@router.get("/ui/datacenters/{datacenter_id}")
@guarded
async def show_datacenter(request: Request, datacenter_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    caller = mgr.caller(me.ctx)
    dcs = {d["id"]: d for d in await run(mgr.vmm.inventory.list_datacenters, caller)}
    if datacenter_id not in dcs:
        raise ResourceNotFound("DataCenter", datacenter_id)
    clusters = [
        c
        for c in await run(mgr.vmm.inventory.list_clusters, caller)
        if c["datacenter_id"] == datacenter_id
    ]
    networks = await run(mgr.vmm.networks.list_networks, caller, datacenter_id)
    providers = {p["id"]: p["name"] for p in await run(mgr.vmm.providers.list_providers, caller)}
    return page(
        request,
        me,
        "datacenter.html",
        dc=dcs[datacenter_id],
        clusters=sorted(clusters, key=lambda c: c["name"]),
        networks=sorted(networks, key=lambda n: n["name"]),
        providers=providers,
    )


@router.post("/ui/datacenters/{datacenter_id}/delete")
@guarded
async def remove_datacenter(request: Request, datacenter_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    fields = await form(request)
    force = fields.get("force") == "on"
    caller = mgr.caller(me.ctx)
    inventory, vms = mgr.vmm.inventory, mgr.vmm.vms
    label = f"Remove data center {fields.get('name') or datacenter_id}" + (
        " with its VMs and their ports" if force else ""
    )
    step = Step(
        label, lambda: inventory.remove_datacenter(caller, datacenter_id, force, vms.drop_port)
    )
    return launch(request, me, label, "/ui/datacenters", [step])


@router.get("/ui/hosts")
@guarded
async def list_hosts(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    return await _hosts(request, me, mgr, {}, {})


async def _hosts(
    request: Request, me: Session, mgr: Manager, fields: Fields, errors: Fields, status: int = 200
) -> Response:
    caller = mgr.caller(me.ctx)
    hosts = sorted(await run(mgr.vmm.inventory.list_hosts, caller), key=lambda h: h["name"])
    clusters = {c["id"]: c for c in await run(mgr.vmm.inventory.list_clusters, caller)}
    dcs = {d["id"]: d["name"] for d in await run(mgr.vmm.inventory.list_datacenters, caller)}
    choices = sorted(
        (c["id"], f"{dcs.get(c['datacenter_id'], '?')} / {c['name']}") for c in clusters.values()
    )
    return page(
        request,
        me,
        "hosts.html",
        status=status,
        hosts=hosts,
        clusters={k: choice for k, choice in choices},
        cluster_choices=choices,
        form=fields,
        errors=errors,
    )


@router.post("/ui/hosts")
@guarded
async def add_host(request: Request) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")

    def body(f: Fields) -> dict[str, str]:
        made = {"name": f.get("name", ""), "cluster_id": f.get("cluster_id", "")}
        if f.get("provider_host"):
            made["provider_host"] = f["provider_host"]
        return made

    return await submit(
        request,
        lambda f: run(mgr.vmm.inventory.add_host, mgr.caller(me.ctx), body(f)),
        lambda _: "/ui/hosts",
        lambda f, errors, status: _hosts(request, me, mgr, f, errors, status),
        errors=named_first,
    )


@router.post("/ui/hosts/{host_id}/delete")
@guarded
async def remove_host(request: Request, host_id: str) -> Response:
    me, mgr = signed_in(request, "vmm_inventory")
    await form(request)
    await run(mgr.vmm.inventory.remove_host, mgr.caller(me.ctx), host_id)
    return RedirectResponse("/ui/hosts", status_code=303)
