"""The manager (vmm) as the web pages see it: the use cases they call, named as protocols.

``neutrino.vmm`` sits above ``neutrino.web`` in the layers (it reaches the controller only
over HTTP), so the web never imports it: the composition root (``cli/vmm_app.py``) hands a
``Manager`` to ``WebUI``: the vmm's use cases (``neutrino.vmm.usecases.container.Vmm`` fits
``VmmPort``) and ``caller``, which turns a page's verified ``RequestContext`` into the vmm's
own ``Caller``. Without one (an app built with the API only) the manager pages answer 404 and
their links are not shown.

Provider calls block (a VM start waits for its ports; the provider may be this very server),
so every use case runs in a worker thread (``run``), never on the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio
from fastapi import Request

from neutrino.common.errors import NamedNotFound
from neutrino.service.context import RequestContext
from neutrino.web.session import Session, current

T = TypeVar("T")
View = dict[str, Any]


class ConnectionCheckView(Protocol):
    @property
    def ok(self) -> bool: ...

    kind: str
    message: str


class ProvidersPort(Protocol):
    def add(self, caller: Any, body: View) -> View: ...
    def update(self, caller: Any, provider_id: str, body: View) -> View: ...
    def list_providers(self, caller: Any, name: str | None = None) -> list[View]: ...
    def show(self, caller: Any, provider_id: str) -> View: ...
    def test(self, caller: Any, provider_id: str) -> Any: ...
    def remove(self, caller: Any, provider_id: str) -> None: ...


class InventoryPort(Protocol):
    def add_datacenter(self, caller: Any, body: View) -> View: ...
    def list_datacenters(self, caller: Any, name: str | None = None) -> list[View]: ...
    def remove_datacenter(
        self, caller: Any, datacenter_id: str, force: bool = False, drop_port: Any = None
    ) -> None: ...
    def add_cluster(self, caller: Any, body: View) -> View: ...
    def list_clusters(self, caller: Any, name: str | None = None) -> list[View]: ...
    def add_host(self, caller: Any, body: View) -> View: ...
    def list_hosts(self, caller: Any, name: str | None = None) -> list[View]: ...
    def remove_host(self, caller: Any, host_id: str) -> None: ...
    def list_profiles(
        self, caller: Any, network_id: str | None = None, name: str | None = None
    ) -> list[View]: ...


class NetworksPort(Protocol):
    def discover(self, caller: Any, provider_id: str, datacenter_id: str) -> list[View]: ...
    def import_(
        self,
        caller: Any,
        provider_id: str,
        datacenter_id: str,
        external_ids: list[str] | None = None,
    ) -> list[View]: ...
    def list_networks(
        self, caller: Any, datacenter_id: str | None = None, name: str | None = None
    ) -> list[View]: ...


class VmsPort(Protocol):
    def list_vms(self, caller: Any, name: str | None = None) -> list[View]: ...
    def show(self, caller: Any, vm_id: str, live: bool = True) -> View: ...
    def create(self, caller: Any, body: View) -> View: ...
    def delete(self, caller: Any, vm_id: str) -> None: ...
    def start(
        self, caller: Any, vm_id: str, host_id: str | None = None, wait: bool = True
    ) -> View: ...
    def stop(self, caller: Any, vm_id: str) -> View: ...
    def migrate(
        self, caller: Any, vm_id: str, host_id: str | None = None, wait: bool = True
    ) -> View: ...
    def add_nic(self, caller: Any, vm_id: str, body: View, wait: bool = True) -> View: ...
    def remove_nic(self, caller: Any, vm_id: str, nic_id: str) -> None: ...
    def drop_port(self, nic: Any) -> None: ...


class VmmPort(Protocol):
    @property
    def providers(self) -> ProvidersPort: ...
    @property
    def inventory(self) -> InventoryPort: ...
    @property
    def networks(self) -> NetworksPort: ...
    @property
    def vms(self) -> VmsPort: ...


@dataclass(frozen=True)
class Manager:
    vmm: VmmPort
    caller: Callable[[RequestContext], object]


def manager(request: Request) -> Manager:
    """The app's manager; 404 (as for any unknown page) when the app has none."""
    found: Manager | None = getattr(request.app.state, "web_manager", None)
    if found is None:
        raise NamedNotFound("PageNotFound", "This server runs no manager (vmm).")
    return found


def signed_in(request: Request, admin_action: str = "") -> tuple[Session, Manager]:
    """The session (admin only when ``admin_action`` is named: 403 otherwise) and the
    manager; the login redirect or 404 as for any page."""
    me = current(request)
    if admin_action:
        me.ctx.require_admin(admin_action)
    return me, manager(request)


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A use case in a worker thread (see the module docstring)."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
