"""The app factory. Nothing connects anywhere at import time: the lifespan opens the store
and builds the services from the ``Settings`` it is given.

One port serves both APIs: Neutron v2.0 under ``/v2.0/...`` and Keystone under ``/v3`` and
``/v2.0/tokens``; the token catalog tells clients where each lives.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino import __version__
from neutrino.api import errors
from neutrino.api.agent import v1 as agent_v1
from neutrino.api.identity import v2 as identity_v2
from neutrino.api.identity import v3 as identity_v3
from neutrino.api.neutron import floatingips, quotas, readonly, root, tags
from neutrino.api.neutron import routers as router_actions
from neutrino.api.neutron.resources import collection_router
from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.store.uow import Store


class RequestIdMiddleware:
    """Adds ``x-openstack-request-id`` to every response (a pure ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-openstack-request-id", request_id))
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        active = store or Store(settings.db_url)
        app.state.services = Services.build(settings, active)
        stop = threading.Event()
        if settings.agent_sweep_interval > 0:
            threading.Thread(target=app.state.services.liveness.run,
                             args=(stop, settings.agent_sweep_interval),
                             name="liveness-sweep", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            if own_store:
                active.dispose()

    app = FastAPI(title="neutrino", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    errors.install(app, settings.base_url + "/v3")
    # Starlette tries routes in order: the hot Neutron collections go first.
    app.include_router(collection_router("ports", "port", lambda s: s.ports))
    app.include_router(collection_router("networks", "network", lambda s: s.networks))
    app.include_router(collection_router("subnets", "subnet", lambda s: s.subnets))
    app.include_router(collection_router("security-groups", "security_group",
                                         lambda s: s.security_groups))
    app.include_router(collection_router("security-group-rules", "security_group_rule",
                                         lambda s: s.security_group_rules, updatable=False))
    app.include_router(collection_router("rbac-policies", "rbac_policy", lambda s: s.rbac))
    app.include_router(readonly.router)
    app.include_router(collection_router("default-security-group-rules",
                                         "default_security_group_rule",
                                         lambda s: s.default_security_group_rules,
                                         updatable=False))
    app.include_router(collection_router("routers", "router", lambda s: s.routers))
    app.include_router(router_actions.router)
    app.include_router(collection_router("floatingips", "floatingip",
                                         lambda s: s.floatingips))
    app.include_router(floatingips.router)
    app.include_router(collection_router("agents", "agent", lambda s: s.agents))
    app.include_router(tags.router)
    app.include_router(quotas.router)
    app.include_router(agent_v1.router)
    app.include_router(root.router)
    app.include_router(identity_v3.router)
    app.include_router(identity_v2.router)
    app.add_middleware(RequestIdMiddleware)
    return app
