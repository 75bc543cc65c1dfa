"""The app factory. Nothing connects anywhere at import time: the lifespan opens the store
and builds the services from the ``Settings`` it is given.

One port serves both APIs: Neutron v2.0 under ``/v2.0/...`` and Keystone under ``/v3`` and
``/v2.0/tokens``; the token catalog tells clients where each lives. ``extensions`` are other
bounded contexts served on the same port (the vmm, ``/vmm/v1``): the composition root (the
CLI) hands them in, since ``api`` may not import them; they get this app's token check and
error handler, and are started and stopped by its lifespan.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino import __version__
from neutrino.api import errors, lifecycle, observability, openapi
from neutrino.api.agent import v1 as agent_v1
from neutrino.api.guard import RequestGuard
from neutrino.api.http import context
from neutrino.api.identity import v2 as identity_v2
from neutrino.api.identity import v3 as identity_v3
from neutrino.api.neutrino import trace as trace_api
from neutrino.api.neutron import address_groups as address_group_actions
from neutrino.api.neutron import (
    auto_allocate,
    dhcp_agents,
    floatingips,
    l3_agent_scheduler,
    port_bindings,
    port_forwardings,
    qos,
    quotas,
    readonly,
    root,
    tags,
)
from neutrino.api.neutron import flavors as flavor_actions
from neutrino.api.neutron import routers as router_actions
from neutrino.api.neutron import subnetpools as subnetpool_actions
from neutrino.api.neutron import trunks as trunk_actions
from neutrino.api.neutron.resources import collection_router
from neutrino.common import logs
from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store.uow import Store


class RequestIdMiddleware:
    """Adds ``x-openstack-request-id`` to every response (a pure ASGI middleware: cheap), and
    makes it the request id of every log line written while the request is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}".encode()
        token = logs.request_id.set(request_id.decode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-openstack-request-id", request_id))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)


class Extension(Protocol):
    """A bounded context served on this app's port (see the module docstring)."""

    def install(self, app: FastAPI, authenticate: Callable[[Request], RequestContext]) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    settings: Settings, store: Store | None = None, extensions: Sequence[Extension] = ()
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        active = store or Store(settings.db_url)
        app.state.services = Services.build(settings, active)
        observability.watch_store(active)
        stop = threading.Event()
        if settings.agent_sweep_interval > 0:
            threading.Thread(
                target=app.state.services.liveness.run,
                args=(stop, settings.agent_sweep_interval),
                name="liveness-sweep",
                daemon=True,
            ).start()
        for extension in extensions:
            extension.start()
        hooks = getattr(app.state, "on_exit", [])

        def stopping() -> None:
            active.close_waits()
            app.state.services.trace.checks.close()  # the agents' kernel-check long-polls
            for hook in hooks:
                hook()

        undo = lifecycle.on_exit_signals(stopping)
        try:
            yield
        finally:
            undo()
            stop.set()
            for extension in extensions:
                extension.stop()
            if own_store:
                active.dispose()

    app = FastAPI(
        title="neutrino",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    errors.install(app, settings.base_url + "/v3")
    # Starlette tries routes in order: the hot Neutron collections go first.
    app.include_router(collection_router("ports", "port", lambda s: s.ports))
    # The agents' watch, status reports and the managers' port events come next: FastAPI
    # matches an included router's routes one by one, twice a request (match, then handle),
    # so an agent request at the end of the list paid 0.8-1.6 ms of matching. No other route
    # starts with /agent/v1, so the order changes no match.
    app.include_router(agent_v1.router)
    app.include_router(collection_router("networks", "network", lambda s: s.networks))
    app.include_router(collection_router("subnets", "subnet", lambda s: s.subnets))
    app.include_router(
        collection_router("security-groups", "security_group", lambda s: s.security_groups)
    )
    app.include_router(
        collection_router(
            "security-group-rules",
            "security_group_rule",
            lambda s: s.security_group_rules,
            updatable=False,
        )
    )
    app.include_router(collection_router("rbac-policies", "rbac_policy", lambda s: s.rbac))
    app.include_router(collection_router("subnetpools", "subnetpool", lambda s: s.subnetpools))
    app.include_router(subnetpool_actions.router)
    app.include_router(
        collection_router("address-scopes", "address_scope", lambda s: s.address_scopes)
    )
    app.include_router(
        collection_router("address-groups", "address_group", lambda s: s.address_groups)
    )
    app.include_router(address_group_actions.router)
    app.include_router(qos.router)  # before the policies' members: ``{id}/tags`` is its
    app.include_router(
        collection_router("qos/policies", "policy", lambda s: s.qos_policies, key="policies")
    )
    app.include_router(collection_router("trunks", "trunk", lambda s: s.trunks))
    app.include_router(trunk_actions.router)
    app.include_router(collection_router("segments", "segment", lambda s: s.segments))
    app.include_router(collection_router("flavors", "flavor", lambda s: s.flavors))
    app.include_router(flavor_actions.router)
    app.include_router(
        collection_router("service_profiles", "service_profile", lambda s: s.service_profiles)
    )

    # Neutron serves its collections under either spelling; clients use both for this one
    # (openstacksdk underscores, tempest hyphens): the twin is left out of the document
    for path, documented in (("network_segment_ranges", True), ("network-segment-ranges", False)):
        app.include_router(
            collection_router(
                path,
                "network_segment_range",
                lambda s: s.segment_ranges,
                key=path.replace("-", "_"),
            ),
            include_in_schema=documented,
        )
    app.include_router(readonly.router)
    app.include_router(auto_allocate.router)
    app.include_router(
        collection_router(
            "default-security-group-rules",
            "default_security_group_rule",
            lambda s: s.default_security_group_rules,
            updatable=False,
        )
    )
    app.include_router(collection_router("routers", "router", lambda s: s.routers))
    app.include_router(router_actions.router)
    app.include_router(collection_router("floatingips", "floatingip", lambda s: s.floatingips))
    app.include_router(floatingips.router)
    app.include_router(port_forwardings.router)
    app.include_router(port_bindings.router)
    app.include_router(collection_router("agents", "agent", lambda s: s.agents))
    app.include_router(dhcp_agents.router)
    app.include_router(l3_agent_scheduler.router)
    app.include_router(tags.router)
    app.include_router(quotas.router)
    app.include_router(trace_api.router)
    app.include_router(root.router)
    app.include_router(identity_v3.router)
    app.include_router(identity_v2.router)
    for extension in extensions:
        extension.install(app, context)
    app.include_router(observability.router)
    # Outermost last: the request id goes on every answer, a 500 and a 413 included, and the
    # metrics see what the guard and the error handler answered.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(errors.UnexpectedErrorMiddleware)
    app.add_middleware(observability.ObserveMiddleware)
    app.add_middleware(RequestIdMiddleware)
    openapi.install(app)
    return app
