"""Mounting the UI on an app: its routes, its two static files, and ``/`` for browsers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from neutrino.service.context import RequestContext
from neutrino.web import (
    agents,
    auth,
    jobs,
    networks,
    pages,
    port_forwardings,
    qos,
    quotas,
    routers,
    security_groups,
    topology_pages,
    vmm_inventory,
    vmm_providers,
    vmm_vms,
)
from neutrino.web.manager import Manager

STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}


class BrowserRedirect:
    """``GET /`` from a browser (``Accept`` names text/html) goes to ``/ui``; everyone else
    (the ``openstack`` CLI, SDKs, curl) gets the API's versions document as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "GET":
            accept = dict(scope["headers"]).get(b"accept", b"")
            if b"text/html" in accept:
                await RedirectResponse("/ui", status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _static(name: str, kind: str) -> Callable[[], Awaitable[Response]]:
    body = (resources.files("neutrino.web") / "static" / name).read_bytes()

    async def serve() -> Response:
        return Response(body, media_type=kind, headers={"Cache-Control": "public, max-age=300"})

    return serve


class WebUI:
    """The UI as an extension of the API's app (``create_app(..., extensions=[WebUI()])``):
    routes and the ``/`` redirect at build time; nothing runs beside the app, so ``start`` and
    ``stop`` have nothing to do. The pages check the session cookie themselves, so the API's
    ``authenticate`` (for ``X-Auth-Token``) is not used. ``manager``: the vmm's use cases,
    for the manager pages (providers, data centers, hosts, VMs); without it they are absent."""

    def __init__(self, manager: Manager | None = None) -> None:
        self.manager = manager

    def install(self, app: FastAPI, authenticate: Callable[[Request], RequestContext]) -> None:
        install(app, self.manager)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def install(app: FastAPI, manager: Manager | None = None) -> None:
    app.state.web_manager = manager
    for module in (
        auth,
        agents,
        pages,
        networks,
        routers,
        security_groups,
        qos,
        port_forwardings,
        quotas,
        topology_pages,
        jobs,
        vmm_providers,
        vmm_inventory,
        vmm_vms,
    ):
        app.include_router(module.router, include_in_schema=False)  # pages, not API
    for name, kind in STATIC.items():
        app.add_api_route(
            f"/ui/static/{name}", _static(name, kind), methods=["GET"], include_in_schema=False
        )
    app.add_middleware(BrowserRedirect)
