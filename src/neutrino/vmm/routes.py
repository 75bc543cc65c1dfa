"""The vmm's REST API, ``/vmm/v1``, served by the same server as the Neutron API.

The same Keystone tokens: the host app hands in its own ``context(request)`` (a verified
token's user, project and roles), so the vmm never reads the identity tables. Admins manage
providers, data centers, clusters, hosts, networks and profiles; members their project's VMs.
Errors are the one tree of ``neutrino.common.errors``, rendered by the host app's single
handler into Neutron's envelope; bad JSON and bad input are 400, never a 500.

Resources (``{"provider": {...}}`` / ``{"providers": [...]}`` bodies, Neutron style)::

    providers            GET POST   /{id} GET PUT DELETE   /{id}/test POST   /{id}/sync POST
                         /{id}/networks GET (discover ?datacenter_id=)   /{id}/import POST
    datacenters          GET POST   /{id} DELETE (?force=true: its VMs and their ports too)
    clusters             GET POST
    hosts                GET POST   /{id} DELETE
    networks             GET POST (provider_id: create on the provider; none: own)
                         /{id} GET DELETE (?from_provider=true)
    vnicprofiles         GET POST   /{id} DELETE
    vms                  GET POST   /{id} GET DELETE   /{id}/start|stop|migrate POST
    vms/{id}/nics        GET POST   /{nic} PUT DELETE

Provider calls block (a start waits for ports), so every endpoint runs its use case in a
worker thread. Each route's OpenAPI operation (body, answers, who may call it) is in
``schemas``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

import anyio
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from neutrino.common.errors import BadRequest, InvalidInput
from neutrino.common.text import holds_nul
from neutrino.vmm import schemas
from neutrino.vmm.usecases.base import Caller
from neutrino.vmm.usecases.container import Vmm
from neutrino.vmm.usecases.sync import report_view

PREFIX = "/vmm/v1"


class Principal(Protocol):
    """What the host app's token check yields (its ``RequestContext``), read-only."""

    @property
    def user_id(self) -> str: ...

    @property
    def project_id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...

    @property
    def can_write(self) -> bool: ...


Authenticate = Callable[[Request], Principal]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _body(request: Request, member: str | None = None) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise BadRequest("Body contains invalid data") from None
    if b"\\u0000" in raw and holds_nul(body):  # PostgreSQL's text cannot hold one
        raise BadRequest("Body contains invalid data: NUL characters are not allowed")
    if member is None:
        if not isinstance(body, dict):
            raise BadRequest("Body must be a JSON object")
        return body
    if not isinstance(body, dict) or not isinstance(body.get(member), dict):
        raise BadRequest(f"Unable to find '{member}' in request body")
    return body[member]  # type: ignore[no-any-return]


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name} must be true or false")
    return value.lower() in ("true", "1")


def _opt_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key} must be true or false")
    return value


def build_router(vmm: Vmm, authenticate: Authenticate) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def caller(request: Request) -> Caller:
        p = authenticate(request)
        return Caller(
            user_id=p.user_id, project_id=p.project_id, is_admin=p.is_admin, can_write=p.can_write
        )

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    # --- providers -----------------------------------------------------------------------

    @router.get("/providers")
    async def list_providers(request: Request) -> Response:
        found = await run(
            vmm.providers.list_providers, caller(request), request.query_params.get("name")
        )
        return _json({"providers": found})

    @router.post("/providers")
    async def add_provider(request: Request) -> Response:
        body = await _body(request, "provider")
        return _json({"provider": await run(vmm.providers.add, caller(request), body)}, 201)

    @router.get("/providers/{pid}")
    async def show_provider(request: Request, pid: str) -> Response:
        return _json({"provider": await run(vmm.providers.show, caller(request), pid)})

    @router.put("/providers/{pid}")
    async def update_provider(request: Request, pid: str) -> Response:
        body = await _body(request, "provider")
        return _json({"provider": await run(vmm.providers.update, caller(request), pid, body)})

    @router.delete("/datacenters/{dcid}")
    async def remove_datacenter(request: Request, dcid: str) -> Response:
        await run(
            vmm.inventory.remove_datacenter,
            caller(request),
            dcid,
            _flag(request, "force", False),
            vmm.vms.drop_port,
        )
        return Response(status_code=204)

    @router.delete("/providers/{pid}")
    async def remove_provider(request: Request, pid: str) -> Response:
        await run(vmm.providers.remove, caller(request), pid)
        return Response(status_code=204)

    @router.post("/providers/{pid}/test")
    async def test_provider(request: Request, pid: str) -> Response:
        check = await run(vmm.providers.test, caller(request), pid)
        return _json({"check": {"ok": check.ok, "kind": check.kind, "message": check.message}})

    @router.post("/providers/{pid}/sync")
    async def sync_provider(request: Request, pid: str) -> Response:
        report = await run(vmm.sync.run, caller(request), pid)
        return _json({"sync": report_view(report)})

    @router.get("/providers/{pid}/networks")
    async def discover(request: Request, pid: str) -> Response:
        dc = request.query_params.get("datacenter_id")
        if not dc:
            raise InvalidInput("datacenter_id is required")
        return _json({"networks": await run(vmm.networks.discover, caller(request), pid, dc)})

    @router.post("/providers/{pid}/import")
    async def import_networks(request: Request, pid: str) -> Response:
        body = await _body(request)
        ids = body.get("external_ids")
        if ids is not None and not isinstance(ids, list):
            raise InvalidInput("external_ids must be a list")
        found = await run(
            vmm.networks.import_, caller(request), pid, str(body.get("datacenter_id")), ids
        )
        return _json({"networks": found}, 201)

    # --- inventory -----------------------------------------------------------------------

    def simple(
        plural: str,
        member: str,
        lister: Callable[..., Any],
        adder: Callable[..., Any],
        remover: Callable[..., Any] | None = None,
        filters: tuple[str, ...] = ("name",),
    ) -> None:
        @router.get(f"/{plural}", name=f"list_{plural}")
        async def list_(request: Request) -> Response:
            kw = {f: request.query_params.get(f) for f in filters}
            return _json({plural: await run(lister, caller(request), **kw)})

        @router.post(f"/{plural}", name=f"add_{plural}")
        async def add(request: Request) -> Response:
            body = await _body(request, member)
            return _json({member: await run(adder, caller(request), body)}, 201)

        if remover is not None:

            @router.delete(f"/{plural}/{{rid}}", name=f"remove_{plural}")
            async def remove(request: Request, rid: str) -> Response:
                await run(remover, caller(request), rid)
                return Response(status_code=204)

    inv = vmm.inventory
    simple("datacenters", "datacenter", inv.list_datacenters, inv.add_datacenter)
    simple("clusters", "cluster", inv.list_clusters, inv.add_cluster)
    simple("hosts", "host", inv.list_hosts, inv.add_host, inv.remove_host)
    simple(
        "vnicprofiles",
        "vnicprofile",
        inv.list_profiles,
        inv.add_profile,
        inv.remove_profile,
        filters=("name", "network_id"),
    )

    # --- networks ------------------------------------------------------------------------

    @router.get("/networks")
    async def list_networks(request: Request) -> Response:
        q = request.query_params
        found = await run(
            vmm.networks.list_networks, caller(request), q.get("datacenter_id"), q.get("name")
        )
        return _json({"networks": found})

    @router.post("/networks")
    async def add_network(request: Request) -> Response:
        body = await _body(request, "network")
        fn = vmm.networks.create if body.get("provider_id") else vmm.networks.add_own
        return _json({"network": await run(fn, caller(request), body)}, 201)

    @router.get("/networks/{nid}")
    async def show_network(request: Request, nid: str) -> Response:
        return _json({"network": await run(vmm.networks.show, caller(request), nid)})

    @router.delete("/networks/{nid}")
    async def remove_network(request: Request, nid: str) -> Response:
        await run(vmm.networks.remove, caller(request), nid, _flag(request, "from_provider", False))
        return Response(status_code=204)

    # --- VMs and vNICs -------------------------------------------------------------------

    @router.get("/vms")
    async def list_vms(request: Request) -> Response:
        found = await run(vmm.vms.list_vms, caller(request), request.query_params.get("name"))
        return _json({"vms": found})

    @router.post("/vms")
    async def create_vm(request: Request) -> Response:
        body = await _body(request, "vm")
        return _json({"vm": await run(vmm.vms.create, caller(request), body)}, 201)

    @router.get("/vms/{vid}")
    async def show_vm(request: Request, vid: str) -> Response:
        return _json({"vm": await run(vmm.vms.show, caller(request), vid)})

    @router.delete("/vms/{vid}")
    async def delete_vm(request: Request, vid: str) -> Response:
        await run(vmm.vms.delete, caller(request), vid)
        return Response(status_code=204)

    @router.post("/vms/{vid}/start")
    async def start_vm(request: Request, vid: str) -> Response:
        body = await _body(request)
        vm = await run(
            vmm.vms.start, caller(request), vid, body.get("host_id"), _opt_bool(body, "wait", True)
        )
        return _json({"vm": vm})

    @router.post("/vms/{vid}/stop")
    async def stop_vm(request: Request, vid: str) -> Response:
        return _json({"vm": await run(vmm.vms.stop, caller(request), vid)})

    @router.post("/vms/{vid}/migrate")
    async def migrate_vm(request: Request, vid: str) -> Response:
        body = await _body(request)
        vm = await run(
            vmm.vms.migrate,
            caller(request),
            vid,
            body.get("host_id"),
            _opt_bool(body, "wait", True),
        )
        return _json({"vm": vm})

    @router.get("/vms/{vid}/nics")
    async def list_nics(request: Request, vid: str) -> Response:
        vm = await run(vmm.vms.show, caller(request), vid)
        return _json({"nics": vm["nics"]})

    @router.post("/vms/{vid}/nics")
    async def add_nic(request: Request, vid: str) -> Response:
        body = await _body(request, "nic")
        wait = _flag(request, "wait", True)
        return _json({"nic": await run(vmm.vms.add_nic, caller(request), vid, body, wait)}, 201)

    @router.put("/vms/{vid}/nics/{nic}")
    async def update_nic(request: Request, vid: str, nic: str) -> Response:
        body = await _body(request, "nic")
        wait = _flag(request, "wait", True)
        return _json({"nic": await run(vmm.vms.update_nic, caller(request), vid, nic, body, wait)})

    @router.delete("/vms/{vid}/nics/{nic}")
    async def remove_nic(request: Request, vid: str, nic: str) -> Response:
        await run(vmm.vms.remove_nic, caller(request), vid, nic)
        return Response(status_code=204)

    describe(router)
    return router


def describe(router: APIRouter) -> None:
    """Give each route its OpenAPI operation (``schemas``) under ``x-operation``, which the
    server's document builder puts in place."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                op = schemas.operation(route.path, method)
                if op is not None:
                    route.openapi_extra = {"x-operation": op}


class VmmExtension:
    """The vmm mounted into a host app: routes at build time, the sync thread while the app
    runs (``start``/``stop`` from its lifespan)."""

    def __init__(self, vmm: Vmm, *, sync: bool = True) -> None:
        self.vmm = vmm
        self.sync = sync

    def install(self, app: FastAPI, authenticate: Authenticate) -> None:
        app.include_router(build_router(self.vmm, authenticate))

    def start(self) -> None:
        if self.sync:
            self.vmm.runner.start()

    def stop(self) -> None:
        self.vmm.close()
